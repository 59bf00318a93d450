import { describe, expect, it } from 'vitest';
import { decodeEvent, eventKey, MAX_MESSAGE_BYTES, type DecodeReason } from '../../schemas/events/decode.js';
import { integrationEventExamples, sessionEventExamples } from '../../schemas/events/examples.js';

const now = () => Date.parse('2026-11-03T00:00:00Z');
const example = sessionEventExamples[0]!;
const activityExample = sessionEventExamples.find((e) => e.type === 'session.activity')!;

/** 'accepted', or the refusal's reason and detail: one string, so an assertion shows the whole verdict. */
function outcome(raw: string | Buffer): string {
  const decoded = decodeEvent(raw, { now });
  return decoded.ok ? 'accepted' : `${decoded.reason} ${decoded.detail}`;
}

describe('event contract v1', () => {
  it.each([...sessionEventExamples, ...integrationEventExamples].map((e) => [e.type, e] as const))('example %s decodes', (_type, event) => {
    const decoded = decodeEvent(Buffer.from(JSON.stringify(event)), { now, key: eventKey(event) });
    expect(decoded).toEqual({ ok: true, event });
  });

  it('ignores unknown future fields', () => {
    const decoded = decodeEvent(JSON.stringify({ ...example, futureField: 1, data: { ...example.data, extra: true } }), { now });
    expect(decoded.ok).toBe(true);
  });

  const bad: [DecodeReason, string | Buffer | null, string | null][] = [
    ['empty_message', null, null],
    ['empty_message', Buffer.alloc(0), null],
    ['oversized_message', Buffer.alloc(MAX_MESSAGE_BYTES + 1, 32), null],
    ['malformed_json', '{"eventId": ', null],
    ['not_an_object', '[1,2,3]', null],
    ['not_an_object', '"text"', null],
    ['missing_type', JSON.stringify({ ...example, type: undefined }), null],
    ['unknown_type', JSON.stringify({ ...example, type: 'session.teleported' }), null],
    ['unknown_schema_version', JSON.stringify({ ...example, schemaVersion: 2 }), null],
    ['unknown_schema_version', JSON.stringify({ ...example, schemaVersion: '1' }), null],
    ['invalid_field', JSON.stringify({ ...example, eventId: undefined }), null],
    ['invalid_field', JSON.stringify({ ...example, integrationId: 'has spaces' }), null],
    ['invalid_field', JSON.stringify({ ...example, occurredAt: 'yesterday' }), null],
    ['invalid_field', JSON.stringify({ ...example, data: { pageUrl: 42 } }), null],
    // The pattern takes any two-digit offset; these are no instant, and the fold once threw on them.
    ['invalid_field', JSON.stringify({ ...example, occurredAt: '2026-11-02T14:03:11.120+24:00' }), null],
    ['invalid_field', JSON.stringify({ ...example, occurredAt: '2026-11-02T14:03:11-99:99' }), null],
    ['timestamp_out_of_range', JSON.stringify({ ...example, occurredAt: '2030-01-01T00:00:00.000Z' }), null],
    ['timestamp_out_of_range', JSON.stringify({ ...example, occurredAt: '1999-01-01T00:00:00.000Z' }), null],
    ['key_mismatch', JSON.stringify(example), 'another-session'],
  ];

  it.each(bad)('rejects with %s', (reason, raw, key) => {
    const decoded = decodeEvent(raw, { now, key });
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.reason).toBe(reason);
      expect(decoded.detail.length).toBeGreaterThan(0);
    }
  });

  it('accepts times up to a day ahead and from 2015 on, to the millisecond, whatever the form', () => {
    // The window's edges in each accepted form: canonical, with an offset, without milliseconds.
    const withTime = (at: string) => ({ ...activityExample, data: { activities: [{ kind: 'click', at }] } });
    const cases: [string, boolean][] = [
      ['2026-11-04T00:00:00.000Z', true],
      ['2026-11-04T00:00:00.001Z', false],
      ['2026-11-04T01:00:00.000+01:00', true],
      ['2026-11-04T01:00:00.001+01:00', false],
      ['2026-11-04T00:00:00Z', true],
      ['2026-11-04T00:00:01Z', false],
      ['2015-01-01T00:00:00.000Z', true],
      ['2014-12-31T23:59:59.999Z', false],
      ['2014-12-31T19:00:00.000-05:00', true],
      ['2014-12-31T18:59:59.999-05:00', false],
      ['2026-11-02T14:03:11.120+23:59', true],
      ['2026-11-02T14:03:11.120-2359', true],
    ];
    expect(outcome(JSON.stringify(withTime('2026-11-02T14:03:11.120+23:60')))).toBe(
      'invalid_field data.activities.0.at: 2026-11-02T14:03:11.120+23:60 is not a time (its offset is out of range)',
    );
    expect(outcome(JSON.stringify(withTime('2030-01-01T00:00:00.000Z')))).toBe('timestamp_out_of_range data.activities.0.at: 2030-01-01T00:00:00.000Z is outside the accepted window');
    for (const [at, accepted] of cases) {
      for (const event of [{ ...activityExample, occurredAt: at }, withTime(at)]) {
        const decoded = decodeEvent(JSON.stringify(event), { now });
        expect(decoded.ok ? 'accepted' : decoded.reason, at).toBe(accepted ? 'accepted' : 'timestamp_out_of_range');
      }
    }
  });

  it('refuses text holding half a surrogate pair, anywhere, and says where; whole pairs and escaped backslashes pass', () => {
    const withAttributes = (attributes: Record<string, unknown>) => ({
      ...activityExample,
      data: { activities: [{ kind: 'click', at: activityExample.occurredAt, attributes }] },
    });
    const refused = (path: string) => `invalid_field ${path}: text is not well-formed Unicode (half a surrogate pair)`;
    // JSON.stringify writes a lone surrogate as a \u escape, as a producer's JSON would.
    expect(outcome(Buffer.from(JSON.stringify(withAttributes({ note: 'a\ud800' }))))).toBe(refused('data.activities.0.attributes.note'));
    expect(outcome(Buffer.from(JSON.stringify(withAttributes({ note: '\udfffb' }))))).toBe(refused('data.activities.0.attributes.note'));
    expect(outcome(Buffer.from(JSON.stringify(withAttributes({ ['k\udc00']: 1 }))))).toMatch(/^invalid_field data\.activities\.0\.attributes\.k/);
    expect(outcome(Buffer.from(JSON.stringify({ ...example, sessionId: `${example.sessionId}\ud83d` })))).toMatch(/^invalid_field /);
    // A string handed in may hold the lone surrogate itself rather than its escape.
    expect(outcome(JSON.stringify(withAttributes({ note: 'x' })).replace('"x"', '"x\ud800"'))).toBe(refused('data.activities.0.attributes.note'));
    expect(outcome(Buffer.from(JSON.stringify(withAttributes({ note: 'a \ud83d\ude00 b', path: 'C:\\users\\u0041' }))))).toBe('accepted');
    expect(outcome(Buffer.from(JSON.stringify(withAttributes({ note: 'a \ud83d\ude00 b' })).replace('\ud83d\ude00', '\\ud83d\\ude00')))).toBe('accepted');
  });

  it('never throws, whatever the bytes', () => {
    for (let i = 0; i < 2_000; i++) {
      const bytes = Buffer.from(Array.from({ length: (i % 64) + 1 }, (_, j) => (i * 31 + j * 17) % 256));
      expect(() => decodeEvent(bytes, { now })).not.toThrow();
    }
  });

  it('keys integration events so compaction keeps each key', () => {
    expect(integrationEventExamples.map(eventKey)).toEqual(['int_acme_university', 'int_acme_university/key_7f3a9c', 'int_acme_university/key_7f3a9c']);
  });
});
