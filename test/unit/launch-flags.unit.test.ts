import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { launchFlags } from '../../bench/children.js';

/** NODE_OPTIONS of one service in docker-compose.yml: the text from its key to the next top-level entry. */
function composeNodeOptions(service: string, next: string): string | undefined {
  const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
  const section = compose.slice(compose.indexOf(`\n  ${service}:`), compose.indexOf(next));
  return /NODE_OPTIONS: (.+)/.exec(section)?.[1]?.trim();
}

describe('how the services are launched', () => {
  it.each([
    { script: 'projector', next: '\n  api:' },
    { script: 'api', next: '\nvolumes:' },
  ])('compose caps the $script heap exactly as `npm run $script` does, which is what the benchmark measures', async ({ script, next }) => {
    const flags = await launchFlags(script);
    expect(flags).toHaveLength(1);
    expect(composeNodeOptions(script, next)).toBe(flags.join(' '));
  });

  it('a rebuild runs with the projector cap', async () => {
    expect(await launchFlags('rebuild')).toEqual(await launchFlags('projector'));
  });
});
