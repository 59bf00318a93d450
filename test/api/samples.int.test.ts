/**
 * The code samples published with GET /v1/sessions/{sessionId} (reference
 * 001) work as written against this server: only the base URL, the session id
 * and the key placeholders change. Each sample runs as a real program (curl,
 * Python requests, Node with node-fetch) over a session whose events went
 * through the broker and the projector.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evolveSession, type SessionState } from '../../projections/sessions/session-state.js';
import { toSessionResource } from '../../projections/sessions/sessions.queries.js';
import { SessionResponseSchema } from '../../schemas/api/sessions.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import { createTrafficGenerator, type SimulatedSession } from '../../services/simulator/traffic.js';
import { eventually } from '../support/poll.js';
import { get, provisionIntegration, startReadSide, type ReadSide } from '../support/read-side.js';
import { startStack, type TestStack } from '../support/stack.js';

// The samples exactly as published in reference 001 (checked against the file below when it is present).
const CURL_SAMPLE = `curl --request GET \\
  --url https://api.isnotai.com/v1/sessions/your-sessionId \\
  --header 'Authorization: Bearer aik_v1_YOUR_API_KEY'`;

const PYTHON_SAMPLE = `import requests

url = "https://api.isnotai.com/v1/sessions/your-sessionId"

headers = {"Authorization": "Bearer aik_v1_YOUR_API_KEY"}

response = requests.get(url, headers=headers)

print(response.json())`;

const NODE_SAMPLE = `const fetch = require('node-fetch');

const url = 'https://api.isnotai.com/v1/sessions/your-sessionId';
const options = {method: 'GET', headers: {Authorization: 'Bearer aik_v1_YOUR_API_KEY'}};

try {
  const response = await fetch(url, options);
  const data = await response.json();
  console.log(data);
} catch (error) {
  console.error(error);
}`;

const REFERENCE_DIR = '/work/shared/reference';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HAS_REQUESTS = spawnSync('python3', ['-c', 'import requests'], { stdio: 'ignore' }).status === 0;
if (!HAS_REQUESTS) console.warn('[samples] SKIPPING the Python sample: `python3 -c "import requests"` failed (install python3-requests to run it)');

let stack: TestStack;
let side: ReadSide;
let key = '';
let session: SimulatedSession;
let expected: { data: Record<string, unknown> };
let dir = '';

const fold = (events: readonly SessionEvent[]) => events.reduce<SessionState | null>((s, e) => evolveSession(s, e), null)!;

/** The sample with the placeholders a reader replaces: base URL, session id and key. Nothing else changes. */
function personalise(sample: string): string {
  return sample.replaceAll('https://api.isnotai.com', side.url).replaceAll('your-sessionId', session.sessionId).replaceAll('aik_v1_YOUR_API_KEY', key);
}

function run(file: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Loopback never goes through a proxy a CI machine may configure.
    const env = { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' };
    const child = execFile(file, args, { env, timeout: 30_000, maxBuffer: 10 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

beforeAll(async () => {
  stack = await startStack({ name: 'samples' });
  side = await startReadSide(stack);
  key = (await provisionIntegration(stack, { integrationId: 'int_samples', tier: 'pro' })).rawKey;
  const generator = createTrafficGenerator({ seed: 1001, integrationIds: ['int_samples'], startAt: new Date(Date.now() - 1_800_000), anonymousShare: 0 });
  const sessions = Array.from({ length: 5 }, () => generator.nextSimulatedSession());
  await stack.publish(sessions.flatMap((s) => s.events));
  // A scored, identified session: every field of the resource has a value.
  session = sessions.find((s) => s.user !== null && s.events.some((e) => e.type === 'session.scored')) ?? sessions[0]!;
  expected = { data: toSessionResource(fold(session.events)) };
  await eventually(() => get(side.url, `/v1/sessions/${session.sessionId}`, key), {
    until: (r) => r.status === 200 && JSON.stringify(r.body) === JSON.stringify(expected),
    what: 'the session projected',
  });
  expect(expected.data.userId).not.toBeNull();
  dir = await mkdtemp(join(tmpdir(), 'notai-samples-'));
});

afterAll(async () => {
  await side?.stop();
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the published samples', () => {
  it('are embedded here verbatim', () => {
    const file = existsSync(REFERENCE_DIR) ? readdirSync(REFERENCE_DIR).find((f) => f.startsWith('001_')) : undefined;
    if (!file) {
      console.warn(`[samples] ${REFERENCE_DIR}/001_* not present: the embedded samples are not re-checked against it`);
      return;
    }
    const reference = readFileSync(join(REFERENCE_DIR, file), 'utf8');
    for (const sample of [CURL_SAMPLE, PYTHON_SAMPLE, NODE_SAMPLE]) expect(reference).toContain(sample);
  });

  it('curl prints the session', async () => {
    const { code, stdout, stderr } = await run('bash', ['-c', personalise(CURL_SAMPLE)]);
    expect(code, stderr).toBe(0);
    const body: unknown = JSON.parse(stdout);
    SessionResponseSchema.parse(body);
    expect(body).toEqual(expected);
  });

  it.skipIf(!HAS_REQUESTS)('Python (requests) prints the session', async () => {
    const script = join(dir, 'sample.py');
    await writeFile(script, personalise(PYTHON_SAMPLE));
    const { code, stdout, stderr } = await run('python3', [script]);
    expect(code, stderr).toBe(0);
    // print() shows a Python dict; Python itself turns it into JSON for the comparison.
    const converted = await run('python3', ['-c', 'import ast, json, sys; print(json.dumps(ast.literal_eval(sys.stdin.read())))'], stdout);
    expect(converted.code, converted.stderr).toBe(0);
    const body: unknown = JSON.parse(converted.stdout);
    SessionResponseSchema.parse(body);
    expect(body).toEqual(expected);
  });

  it('Node (node-fetch, top-level await) prints the session', async () => {
    const script = join(dir, 'sample.mjs');
    // The sample uses require() and top-level await: an ES module with a require that resolves from this repository.
    const prelude = `import { createRequire } from 'node:module'; const require = createRequire(${JSON.stringify(join(REPO_ROOT, 'package.json'))});\n`;
    await writeFile(script, prelude + personalise(NODE_SAMPLE));
    const { code, stdout, stderr } = await run(process.execPath, [script]);
    expect(code, stderr).toBe(0);
    expect(stderr.split('\n').filter((l) => l && !/DeprecationWarning|--trace-deprecation/.test(l))).toEqual([]);
    // console.log(data) prints util.inspect output: a JavaScript literal.
    const body: unknown = runInNewContext(`(${stdout})`);
    expect(JSON.parse(JSON.stringify(body))).toEqual(expected);
  });
});
