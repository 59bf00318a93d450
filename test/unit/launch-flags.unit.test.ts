import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { launchFlags } from '../../bench/children.js';

describe('how the services are launched', () => {
  it('compose caps the projector heap exactly as `npm run projector` does, which is what the benchmark measures', async () => {
    const flags = await launchFlags('projector');
    expect(flags).toHaveLength(1);
    const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    const projector = compose.slice(compose.indexOf('\n  projector:'), compose.indexOf('\n  api:'));
    expect(/NODE_OPTIONS: (.+)/.exec(projector)?.[1]?.trim()).toBe(flags.join(' '));
    expect(await launchFlags('rebuild')).toEqual(flags);
  });

  it('compose caps the API heap exactly as `npm run api` does', async () => {
    const flags = await launchFlags('api');
    expect(flags).toHaveLength(1);
    const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    const api = compose.slice(compose.indexOf('\n  api:'), compose.indexOf('\nvolumes:'));
    expect(/NODE_OPTIONS: (.+)/.exec(api)?.[1]?.trim()).toBe(flags.join(' '));
  });
});
