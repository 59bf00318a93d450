import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../schemas/events/decode.js';
import { sessionEventExamples } from '../../schemas/events/examples.js';
import { ActivitySchema, AttributesRecord, MAX_ATTRIBUTES } from '../../schemas/events/session-events.js';

const fast = ActivitySchema.shape.attributes;
const reference = AttributesRecord.optional();
const keys = (n: number, length = 4): string[] => Array.from({ length: n }, (_, i) => `k${String(i).padStart(length - 1, '0')}`);
const objectOf = (entries: [string, unknown][]): Record<string, unknown> => Object.fromEntries(entries);

/** Values at and just past every bound, plus shapes that are not attribute maps at all. */
const EDGES: [string, unknown][] = [
  ['absent', undefined],
  ['empty', {}],
  ['numbers, strings, booleans', { n: 0, f: -1.5, s: 'x', b: false, t: true, e: '' }],
  [`${MAX_ATTRIBUTES} keys`, objectOf(keys(MAX_ATTRIBUTES).map((k) => [k, 1]))],
  [`${MAX_ATTRIBUTES + 1} keys`, objectOf(keys(MAX_ATTRIBUTES + 1).map((k) => [k, 1]))],
  ['64-character key', objectOf([[keys(1, 64)[0]!, 1]])],
  ['65-character key', objectOf([[keys(1, 65)[0]!, 1]])],
  ['256-character string', { s: 'a'.repeat(256) }],
  ['257-character string', { s: 'a'.repeat(257) }],
  ['null value', { v: null }],
  ['nested object', { v: { a: 1 } }],
  ['array value', { v: [1] }],
  ['array', [1, 2]],
  ['null', null],
  ['string', 'a=1'],
  ['number', 3],
  ['__proto__ key from JSON', JSON.parse('{"__proto__": 1, "a": 2}') as unknown],
  ['constructor key from JSON', JSON.parse('{"constructor": "x", "a": 2}') as unknown],
  ['constructor key holding a boolean', { constructor: true }],
  ['constructor key holding null', { constructor: null }],
  ['null prototype', Object.assign(Object.create(null) as object, { a: 1 })],
];

/** safeParse, with a throw (zod's record parser throws on `"constructor": null`) counted as a refusal of its own kind. */
const outcome = (schema: typeof fast | typeof reference, value: unknown) => {
  try {
    return schema.safeParse(value);
  } catch (error) {
    return { success: false as const, thrown: String(error) };
  }
};

const activity = sessionEventExamples.find((e) => e.type === 'session.activity')!;
const decodeAt = (raw: string) => decodeEvent(raw, { now: () => Date.parse(activity.occurredAt) });

describe('activity attributes', () => {
  it.each(EDGES)('%s: accepted and returned exactly as the record schema does', (_label, value) => {
    const a = outcome(fast, value);
    const b = outcome(reference, value);
    expect(a.success).toBe(b.success);
    if (a.success && b.success) expect(a.data).toEqual(b.data);
    if ('error' in a && 'error' in b) expect(a.error!.issues.map((i) => [i.path, i.message])).toEqual(b.error!.issues.map((i) => [i.path, i.message]));
    else expect('thrown' in a).toBe('thrown' in b);
  });

  it('agrees with the record schema on generated maps', () => {
    // A fixed linear congruential sequence: the same cases on every run.
    let seed = 7;
    const next = (n: number): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    const values: unknown[] = [1, -0.25, 'a', 'a'.repeat(256), 'a'.repeat(257), true, null, {}, [], Number.MAX_VALUE];
    for (let i = 0; i < 2_000; i++) {
      // Now and then a key zod's record treats specially (Object.fromEntries makes even __proto__ an own key).
      const key = (): string => (next(40) === 0 ? ['constructor', '__proto__'][next(2)]! : 'k'.repeat(next(3) === 0 ? 60 + next(8) : 1 + next(5)) + next(1_000));
      const value = objectOf(Array.from({ length: next(MAX_ATTRIBUTES + 3) }, () => [key(), values[next(values.length)]]));
      const a = outcome(fast, value);
      const b = outcome(reference, value);
      expect(a.success, JSON.stringify(value)).toBe(b.success);
      if (a.success && b.success) expect(a.data).toEqual(b.data);
    }
  });

  it('attributes holding "constructor": null dead-letter their event instead of throwing (zod throws on them)', () => {
    const raw = `{"eventId":"evt_ctor","type":"session.activity","schemaVersion":1,"integrationId":"${activity.integrationId}","sessionId":"${activity.sessionId}","occurredAt":"${activity.occurredAt}","data":{"activities":[{"kind":"click","at":"${activity.occurredAt}","attributes":{"constructor":null}}]}}`;
    expect(decodeAt(raw)).toMatchObject({ ok: false, reason: 'invalid_field' });
  });

  it('a bad attribute dead-letters its event, naming where it is', () => {
    const raw = JSON.stringify({ ...activity, data: { activities: [{ kind: 'click', at: activity.occurredAt, attributes: { target: { nested: true } } }] } });
    const decoded = decodeAt(raw);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.reason).toBe('invalid_field');
      expect(decoded.detail).toContain('data.activities.0.attributes.target');
    }
  });
});
