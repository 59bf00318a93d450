import { MAX_MESSAGE_BYTES, type DecodeReason } from '../../schemas/events/decode.js';
import type { SessionScored } from '../../schemas/events/session-events.js';
import { Topics } from '../../schemas/events/topics.js';
import type { Rng } from './rng.js';

/**
 * Bad messages of every kind a producer gets wrong, each tagged with the
 * reason `decodeEvent` must give, so fault tests can check that every one of
 * them reaches the dead-letter topic with the right label and nothing stalls.
 */

export const MALFORMED_KINDS = [
  'empty',
  'bad_json',
  'not_an_object',
  'missing_type',
  'unknown_type',
  'unknown_schema_version',
  'wrong_types',
  'missing_ids',
  'hostile_attributes',
  'ill_formed_text',
  'unreadable_time',
  'oversized',
  'far_future',
  'ancient',
  'key_mismatch',
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export interface MalformedMessage {
  kind: MalformedKind;
  /** What `decodeEvent(value, { now, key })` answers for this message. */
  reason: DecodeReason;
  topic: string;
  key: string;
  value: string;
}

export interface MalformedContext {
  integrationId: string;
  /** Epoch ms the message pretends to be sent at; the timestamp cases are placed relative to it. */
  now: number;
}

const REASONS: Readonly<Record<MalformedKind, DecodeReason>> = {
  empty: 'empty_message',
  bad_json: 'malformed_json',
  not_an_object: 'not_an_object',
  missing_type: 'missing_type',
  unknown_type: 'unknown_type',
  unknown_schema_version: 'unknown_schema_version',
  wrong_types: 'invalid_field',
  missing_ids: 'invalid_field',
  hostile_attributes: 'invalid_field',
  ill_formed_text: 'invalid_field',
  unreadable_time: 'invalid_field',
  oversized: 'oversized_message',
  far_future: 'timestamp_out_of_range',
  ancient: 'timestamp_out_of_range',
  key_mismatch: 'key_mismatch',
};

const DAY_MS = 24 * 60 * 60 * 1000;

function scoredEvent(rng: Rng, ctx: MalformedContext): SessionScored {
  return {
    eventId: `evt_${rng.token(26)}`,
    type: 'session.scored',
    schemaVersion: 1,
    integrationId: ctx.integrationId,
    sessionId: `ses_${rng.token(26)}`,
    occurredAt: new Date(ctx.now).toISOString(),
    data: { botScore: 0.91, status: 'bot', detectionFlags: ['webdriver'], modelVersion: 'nai-2026.10.2' },
  };
}

/** A copy of the event with some fields replaced or (when undefined) removed. */
function variant(event: SessionScored, changes: Readonly<Record<string, unknown>>): string {
  const copy: Record<string, unknown> = { ...event, ...changes };
  for (const [field, value] of Object.entries(changes)) if (value === undefined) delete copy[field];
  return JSON.stringify(copy);
}

function valueFor(kind: MalformedKind, event: SessionScored, rng: Rng, ctx: MalformedContext): string {
  const valid = JSON.stringify(event);
  switch (kind) {
    case 'empty': return '';
    // A producer crashed mid-write, or wrote something that is not JSON at all.
    case 'bad_json': return rng.chance(0.5) ? valid.slice(0, rng.int(1, valid.length - 2)) : '\u0000\u00ffnot json';
    case 'not_an_object': return rng.pick(['[1,2,3]', '"session.scored"', '42', 'null', 'true']);
    case 'missing_type': return variant(event, { type: undefined });
    case 'unknown_type': return variant(event, { type: rng.pick(['session.teleported', 'session.Scored', 'apikey.leaked']) });
    case 'unknown_schema_version': return variant(event, { schemaVersion: rng.pick([2, 0, '1', null]) });
    case 'wrong_types': return variant(event, { data: { ...event.data, botScore: rng.pick(['0.91', 1.7, -0.2, null]) } });
    case 'missing_ids': return variant(event, rng.chance(0.5) ? { eventId: undefined } : { sessionId: undefined, eventId: '' });
    // zod's record parser threw on this shape (it reads `constructor.prototype`), which once stalled the partition.
    case 'hostile_attributes': return variant(event, { type: 'session.activity', data: { activities: [{ kind: 'click', at: event.occurredAt, attributes: { constructor: null } }] } });
    // JSON may escape half a surrogate pair; no engine stores that text as written, and ClickHouse refuses the whole insert.
    case 'ill_formed_text':
      return rng.chance(0.5)
        ? variant(event, { data: { ...event.data, modelVersion: `nai-${rng.pick(['\ud800', '\udfff', 'x\ud83d'])}` } })
        : variant(event, { data: { ...event.data, detectionFlags: ['webdriver', `flag\udc00${rng.token(4)}`] } });
    // The contract's pattern takes any two-digit offset; the fold threw on one no parser reads, which stalled the partition.
    case 'unreadable_time': return variant(event, { occurredAt: event.occurredAt.replace('Z', rng.pick(['+24:00', '-99:99', '+05:60'])) });
    case 'oversized': return variant(event, { padding: 'x'.repeat(MAX_MESSAGE_BYTES + rng.int(1, 4096)) });
    case 'far_future': return variant(event, { occurredAt: new Date(ctx.now + rng.int(2, 400) * DAY_MS).toISOString() });
    case 'ancient': return variant(event, { occurredAt: new Date(Date.UTC(rng.int(1999, 2014), rng.int(0, 11), rng.int(1, 28))).toISOString() });
    case 'key_mismatch': return valid;
  }
}

export function malformedMessage(kind: MalformedKind, rng: Rng, ctx: MalformedContext): MalformedMessage {
  const event = scoredEvent(rng, ctx);
  const key = kind === 'key_mismatch' ? `ses_${rng.token(26)}` : event.sessionId;
  return { kind, reason: REASONS[kind], topic: Topics.sessions, key, value: valueFor(kind, event, rng, ctx) };
}

/** One bad message of every kind. */
export function malformedMessages(rng: Rng, ctx: MalformedContext = { integrationId: 'int_simulator', now: Date.now() }): MalformedMessage[] {
  return MALFORMED_KINDS.map((kind) => malformedMessage(kind, rng, ctx));
}

export function randomMalformedMessage(rng: Rng, ctx: MalformedContext): MalformedMessage {
  return malformedMessage(rng.pick(MALFORMED_KINDS), rng, ctx);
}
