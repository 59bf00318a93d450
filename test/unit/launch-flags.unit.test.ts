import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serviceLaunch } from '../../bench/children.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** One service's section of docker-compose.yml: the text from its key to the next top-level entry. */
function composeSection(service: string, next: string): string {
  const compose = read('docker-compose.yml');
  return compose.slice(compose.indexOf(`\n  ${service}:`), compose.indexOf(next));
}

const npmScript = (name: string): string => (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts[name] ?? '';

describe('how the services are launched', () => {
  it.each([
    { script: 'projector', next: '\n  api:' },
    { script: 'api', next: '\nvolumes:' },
  ])('compose caps the $script heap exactly as `npm run $script` does, which is what the benchmark measures', ({ script, next }) => {
    const { nodeFlags } = serviceLaunch(script);
    expect(nodeFlags).toHaveLength(1);
    expect(/NODE_OPTIONS: (.+)/.exec(composeSection(script, next))?.[1]?.trim()).toBe(nodeFlags.join(' '));
  });

  it('a rebuild runs with the projector cap and environment', () => {
    expect(serviceLaunch('rebuild')).toEqual(serviceLaunch('projector'));
  });

  it.each(['projector', 'api', 'rebuild'])('the image sets the environment `npm run %s` sets', (script) => {
    const { env } = serviceLaunch(script);
    expect(Object.keys(env)).toEqual(['MALLOC_MMAP_THRESHOLD_']);
    for (const [name, value] of Object.entries(env)) expect(read('Dockerfile')).toContain(`ENV ${name}=${value}\n`);
  });

  it.each([
    { script: 'projector', next: '\n  api:' },
    { script: 'api', next: '\nvolumes:' },
  ])('the image, compose and `npm run $script` run the same bundle with source maps, as the benchmark does', ({ script, next }) => {
    const bundle = `dist/services/${script}.js`;
    expect(read('scripts/build.mjs')).toContain(`'services/${script}.ts'`);
    expect(npmScript(script)).toMatch(new RegExp(`^(\\w+=\\S+ )*node .*--enable-source-maps ${bundle.replace(/\./g, '\\.')}$`));
    expect(npmScript(`pre${script}`)).toBe('node scripts/build.mjs');
    expect(composeSection(script, next)).toContain(`command: ["${bundle}"]`);
    expect(read('Dockerfile')).toContain('ENTRYPOINT ["node", "--enable-source-maps"]');
  });
});
