import { describe, expect, it } from 'vitest';
import { z } from 'zod/v4';
import { decodeEvent } from '../../schemas/events/decode.js';
import { integrationEventExamples, sessionEventExamples } from '../../schemas/events/examples.js';
import { IntegrationEventSchema } from '../../schemas/events/integration-events.js';
import { SessionEventSchema } from '../../schemas/events/session-events.js';
import { compileAcceptor } from '../../schemas/zod-acceptor.js';
import { createRng, type Rng } from '../../services/simulator/rng.js';
import { createTrafficGenerator } from '../../services/simulator/traffic.js';

const acceptsSession = compileAcceptor(SessionEventSchema);
const acceptsIntegration = compileAcceptor(IntegrationEventSchema);

/** Simulated traffic as JSON.parse hands it to the decoder. */
function simulatedEvents(seed: number, count: number): Record<string, unknown>[] {
  const traffic = createTrafficGenerator({ seed, integrationIds: ['int_a', 'int_b'], startAt: new Date('2026-11-02T08:00:00Z') }).messages();
  return Array.from({ length: count }, () => JSON.parse(traffic.next().value!.value.toString('utf8')) as Record<string, unknown>);
}

/**
 * The acceptor's one promise: where it says true, zod accepts and gives back
 * the input itself (the same keys, values and nesting).
 */
function expectTrueOnlyWhenZodKeepsTheInput(schema: z.ZodType, accepts: (v: unknown) => boolean, value: unknown): boolean {
  const accepted = accepts(value);
  if (accepted) {
    const parsed = schema.safeParse(value);
    expect(parsed.success, JSON.stringify(value)).toBe(true);
    expect(parsed.data).toStrictEqual(value);
  }
  return accepted;
}

/** zod's own parse throws on some hostile shapes (`"constructor": null` in a record): that is a refusal too. */
function zodAccepts(schema: z.ZodType, value: unknown): boolean {
  try {
    return schema.safeParse(value).success;
  } catch {
    return false;
  }
}

const JUNK: readonly unknown[] = [
  null,
  0,
  -1,
  1.5,
  2,
  '',
  'x',
  'x'.repeat(300),
  'not a url',
  'https://example.com/a',
  'HTTPS://Example.COM/a b',
  'https://example.com',
  'javascript:alert(1)',
  '2026-11-02T08:00:00.000Z',
  '2026-11-02T08:00:00+01:00',
  '2026-02-30T08:00:00Z',
  'human',
  'click',
  'closed',
  'session.ended',
  true,
  [],
  ['webdriver'],
  {},
  { a: 1 },
  { constructor: null },
];

/** One random change somewhere in a copy of the value: a field removed, replaced by junk, or an unknown one added. */
function mutate(value: Record<string, unknown>, rng: Rng): unknown {
  const copy = structuredClone(value);
  let target: Record<string, unknown> | unknown[] = copy;
  for (let depth = rng.int(0, 3); depth > 0; depth--) {
    const children: Record<string, unknown>[] = Object.values(target).filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null);
    if (children.length === 0) break;
    target = rng.pick(children);
  }
  const keys = Object.keys(target);
  const key = keys.length > 0 && !rng.chance(0.15) ? rng.pick(keys) : 'extra';
  const roll = rng.next();
  if (roll < 0.2) delete (target as Record<string, unknown>)[key];
  else if (roll < 0.25) Object.defineProperty(target, '__proto__', { value: { polluted: true }, enumerable: true, configurable: true, writable: true });
  else (target as Record<string, unknown>)[key] = structuredClone(rng.pick(JUNK));
  // As the decoder's input: what JSON.parse makes of it (an own `__proto__` key survives; named props on arrays do not).
  return JSON.parse(JSON.stringify(copy));
}

describe('compileAcceptor', () => {
  it('accepts every simulated event and every contract example as zod would return it', () => {
    const events = [...simulatedEvents(5, 3000), ...sessionEventExamples];
    for (const event of events) expect(expectTrueOnlyWhenZodKeepsTheInput(SessionEventSchema, acceptsSession, event), JSON.stringify(event)).toBe(true);
    for (const event of integrationEventExamples) expect(expectTrueOnlyWhenZodKeepsTheInput(IntegrationEventSchema, acceptsIntegration, event)).toBe(true);
    expect(new Set(events.map((e) => e.type)).size).toBe(6);
  });

  it('says true only where zod accepts the input unchanged, over thousands of random mutations', () => {
    const rng = createRng(20261207);
    const bases = [...simulatedEvents(9, 300), ...sessionEventExamples];
    let accepted = 0;
    let refused = 0;
    let zodOnly = 0;
    for (let i = 0; i < 6000; i++) {
      const value = mutate(rng.pick(bases), rng);
      if (expectTrueOnlyWhenZodKeepsTheInput(SessionEventSchema, acceptsSession, value)) accepted++;
      else if (zodAccepts(SessionEventSchema, value)) zodOnly++;
      else refused++;
    }
    for (let i = 0; i < 1000; i++) {
      const value = mutate(structuredClone(rng.pick(integrationEventExamples)) as Record<string, unknown>, rng);
      if (!expectTrueOnlyWhenZodKeepsTheInput(IntegrationEventSchema, acceptsIntegration, value) && !zodAccepts(IntegrationEventSchema, value)) refused++;
    }
    // Every outcome is reached: the check above is not vacuous.
    expect(accepted).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(1000);
    expect(zodOnly).toBeGreaterThan(50);
  });

  it('leaves to zod what zod accepts with another output', () => {
    const started = sessionEventExamples.find((e) => e.type === 'session.started')!;
    const ended = sessionEventExamples.find((e) => e.type === 'session.ended')!;
    const cases: [string, unknown][] = [
      ['a URL zod normalizes', { ...started, data: { ...started.data, pageUrl: 'HTTPS://Example.COM/a b' } }],
      ['a default zod fills in', { ...ended, data: {} }],
      ['an unknown key zod strips', { ...started, futureField: 1 }],
      ['a __proto__ key zod drops', JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(started).slice(1)}`)],
    ];
    for (const [what, value] of cases) {
      const parsed = SessionEventSchema.safeParse(value);
      expect(parsed.success, what).toBe(true);
      expect(parsed.data, what).not.toStrictEqual(value);
      expect(acceptsSession(value), what).toBe(false);
    }
  });

  it('answers false for schema features it does not know, and keeps union order', () => {
    expect(compileAcceptor(z.date())(new Date())).toBe(false);
    expect(compileAcceptor(z.string().transform((s) => s))('a')).toBe(false);
    expect(compileAcceptor(z.object({ a: z.string() }).catchall(z.number()))({ a: 'x' })).toBe(false);
    // The first option zod tries is not decidable here, so the answer goes to zod even though the second would do.
    expect(compileAcceptor(z.union([z.string().transform((s) => s.toUpperCase()), z.string()]))('a')).toBe(false);
    // A check that rewrites the value (trim) passes only where it leaves the value as it was.
    expect([compileAcceptor(z.string().trim())('a'), compileAcceptor(z.string().trim())(' a')]).toEqual([true, false]);
    const primitives = compileAcceptor(z.union([z.number().min(1), z.string().max(3), z.boolean()]));
    expect([primitives(2), primitives('abc'), primitives(true), primitives(0), primitives('abcd'), primitives(null)]).toEqual([true, true, true, false, false, false]);
    expect(compileAcceptor(z.number())(Number.NaN)).toBe(false);
    expect(compileAcceptor(z.number())(Number.POSITIVE_INFINITY)).toBe(false);
  });

  it('leaves decodeEvent with the same events it had from zod alone', () => {
    const now = () => Date.parse('2026-11-02T12:00:00Z');
    for (const event of simulatedEvents(13, 2000)) {
      const decoded = decodeEvent(JSON.stringify(event), { now });
      expect(decoded).toStrictEqual({ ok: true, event: SessionEventSchema.parse(event) });
    }
  });
});
