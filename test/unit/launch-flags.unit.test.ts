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

/** The Dockerfile's last stage, the image that runs. */
const runtimeStage = (): string => read('Dockerfile').split(/^FROM .* AS runtime$/m)[1] ?? '';
const heapCap = (flags: readonly string[]): string[] => flags.filter((flag) => flag.startsWith('--max-old-space-size='));

describe('how the services are launched', () => {
  it.each([
    { script: 'projector', next: '\n  api:' },
    { script: 'api', next: '\nvolumes:' },
  ])('compose caps the $script heap exactly as `npm run $script` does, which is what the benchmark measures', ({ script, next }) => {
    const cap = heapCap(serviceLaunch(script).nodeFlags);
    expect(cap).toHaveLength(1);
    expect(/NODE_OPTIONS: (.+)/.exec(composeSection(script, next))?.[1]?.trim()).toBe(cap.join(' '));
  });

  it('a rebuild runs with the projector cap and environment', () => {
    expect(serviceLaunch('rebuild')).toEqual(serviceLaunch('projector'));
  });

  it.each(['projector', 'api', 'rebuild'])('the image sets the environment `npm run %s` sets', (script) => {
    const { env } = serviceLaunch(script);
    expect(Object.keys(env)).toEqual(['MALLOC_MMAP_THRESHOLD_']);
    for (const [name, value] of Object.entries(env)) expect(runtimeStage()).toMatch(new RegExp(`^ENV ${name}=${value}$`, 'm'));
  });

  it.each([
    { script: 'projector', compose: { next: '\n  api:' } },
    { script: 'api', compose: { next: '\nvolumes:' } },
    { script: 'rebuild', compose: null },
  ])('the image, compose and `npm run $script` run the same bundle with source maps, as the benchmark does', ({ script, compose }) => {
    const bundle = `dist/services/${script}.js`;
    expect(read('scripts/build.mjs')).toContain(`'services/${script}.ts'`);
    expect(npmScript(`pre${script}`)).toBe('node scripts/build.mjs');
    const { env, nodeFlags } = serviceLaunch(script);
    const assignments = Object.entries(env).map(([name, value]) => `${name}=${value} `).join('');
    // Exactly the heap cap and source maps: no TypeScript loader, nothing the image would not pass.
    expect(npmScript(script)).toBe(`${assignments}node ${heapCap(nodeFlags).join(' ')} --enable-source-maps ${bundle}`);
    if (compose) expect(composeSection(script, compose.next)).toContain(`command: ["${bundle}"]`);
    expect(runtimeStage()).toMatch(/^ENTRYPOINT \["node", "--enable-source-maps"\]$/m);
    expect(runtimeStage()).toMatch(/^COPY --from=build \/app\/dist\/services \.\/dist\/services$/m);
  });

  it('compose migrates with the bundle, and the image runs the API by default', () => {
    expect(read('scripts/build.mjs')).toContain(`'services/migrate.ts'`);
    expect(composeSection('migrate', '\n  projector:')).toContain('command: ["dist/services/migrate.js"]');
    expect(runtimeStage()).toMatch(/^CMD \["dist\/services\/api\.js"\]$/m);
  });
});
