import { z } from 'zod/v4';
import { CANONICAL_ISO, EVENT_TYPES, MAX_CLOCK_SKEW_MS, OLDEST_ACCEPTED, SUPPORTED_VERSIONS, type EventType } from './envelope.js';
import { IntegrationEventSchema, type IntegrationEvent } from './integration-events.js';
import { SessionEventSchema, type SessionEvent } from './session-events.js';
import { compileAcceptor } from '../zod-acceptor.js';

export type ContractEvent = SessionEvent | IntegrationEvent;

/** Why an input is not a usable event; each reason is a stable string used in dead-letter headers and metrics. */
export const DECODE_REASONS = [
  'empty_message',
  'oversized_message',
  'malformed_json',
  'not_an_object',
  'missing_type',
  'unknown_type',
  'unknown_schema_version',
  'invalid_field',
  'timestamp_out_of_range',
  'key_mismatch',
] as const;
export type DecodeReason = (typeof DECODE_REASONS)[number];

export type Decoded =
  | { ok: true; event: ContractEvent }
  | { ok: false; reason: DecodeReason; detail: string };

const OLDEST_ACCEPTED_ISO = new Date(OLDEST_ACCEPTED).toISOString();

const acceptsSessionEvent = compileAcceptor(SessionEventSchema);
const acceptsIntegrationEvent = compileAcceptor(IntegrationEventSchema);

/** Larger messages are refused before parsing: a pixel batch is a few KiB, a megabyte is abuse. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

export interface DecodeOptions {
  /** The clock the timestamp window is checked against. */
  now: () => number;
  /** The Kafka message key, checked against sessionId / integrationId when present. */
  key?: string | null;
}

const isEventType = (t: unknown): t is EventType => typeof t === 'string' && (EVENT_TYPES as readonly string[]).includes(t);

function fail(reason: DecodeReason, detail: string): Decoded {
  return { ok: false, reason, detail };
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * The path of the first string or key holding half a surrogate pair, which
 * JSON can escape but no store keeps as written (ClickHouse refuses the whole
 * insert holding it); undefined when all text is well formed.
 */
function illFormedTextAt(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.isWellFormed() ? undefined : path || '(root)';
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (!key.isWellFormed()) return at;
    const found = illFormedTextAt(item, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Turns raw bytes from Kafka into a typed event, or says why not. Never throws:
 * a bad message must not stall its partition, it goes to the dead-letter topic.
 */
export function decodeEvent(raw: Buffer | string | null | undefined, options: DecodeOptions): Decoded {
  if (raw === null || raw === undefined || raw.length === 0) return fail('empty_message', 'message has no value');
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > MAX_MESSAGE_BYTES) return fail('oversized_message', `${size} bytes > ${MAX_MESSAGE_BYTES}`);

  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail('malformed_json', error instanceof Error ? error.message : String(error));
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('not_an_object', 'top-level JSON is not an object');

  const record = json as Record<string, unknown>;
  if (record.type === undefined) return fail('missing_type', 'field "type" is missing');
  if (!isEventType(record.type)) return fail('unknown_type', `type ${JSON.stringify(record.type).slice(0, 80)} is not known`);
  if (!SUPPORTED_VERSIONS[record.type].includes(record.schemaVersion as number)) {
    return fail('unknown_schema_version', `${record.type} schemaVersion ${JSON.stringify(record.schemaVersion)} is not supported`);
  }

  const isSession = record.type.startsWith('session.');
  let event: ContractEvent;
  try {
    // Nearly every event is valid and comes out of zod as it went in: the acceptor proves that without zod's copy.
    if ((isSession ? acceptsSessionEvent : acceptsIntegrationEvent)(record)) {
      event = record as ContractEvent;
    } else {
      const parsed = (isSession ? SessionEventSchema : IntegrationEventSchema).safeParse(record);
      if (!parsed.success) return fail('invalid_field', describeIssues(parsed.error));
      event = parsed.data;
    }
  } catch (error) {
    // zod itself can throw on a hostile shape: its record parser reads `constructor.prototype` of the value, so
    // activity attributes holding `"constructor": null` threw a TypeError, failed the batch and stalled the partition.
    return fail('invalid_field', `the event could not be validated: ${error instanceof Error ? error.message : String(error)}`);
  }

  // Bytes decode to well-formed text (bad UTF-8 becomes U+FFFD), so only a \u escape, or a string handed in, can hold half a surrogate pair.
  if (text.includes('\\u') || (typeof raw === 'string' && !raw.isWellFormed())) {
    const where = illFormedTextAt(event, '');
    if (where !== undefined) return fail('invalid_field', `${where}: text is not well-formed Unicode (half a surrogate pair)`);
  }

  const now = options.now();
  let latest: string | undefined;
  /**
   * What is wrong with a timestamp, if anything. The schema's pattern takes
   * any two-digit offset, and one Date.parse cannot read (+24:00, +99:99) is no
   * instant: the fold would throw on it and stall the partition.
   */
  const timeFault = (iso: string, field: string): Decoded | undefined => {
    // An activity batch carries a dozen timestamps or more, nearly always canonical: compared as text with the bounds.
    if (CANONICAL_ISO.test(iso)) {
      if (iso <= (latest ??= new Date(now + MAX_CLOCK_SKEW_MS).toISOString()) && iso >= OLDEST_ACCEPTED_ISO) return undefined;
    } else {
      const at = Date.parse(iso);
      if (Number.isNaN(at)) return fail('invalid_field', `${field}: ${iso.slice(0, 80)} is not a time (its offset is out of range)`);
      if (at <= now + MAX_CLOCK_SKEW_MS && at >= OLDEST_ACCEPTED) return undefined;
    }
    return fail('timestamp_out_of_range', `${field}: ${iso.slice(0, 80)} is outside the accepted window`);
  };
  const occurredFault = timeFault(event.occurredAt, 'occurredAt');
  if (occurredFault) return occurredFault;
  if (event.type === 'session.activity') {
    const activities = event.data.activities;
    for (let i = 0; i < activities.length; i++) {
      const fault = timeFault(activities[i]!.at, `data.activities.${i}.at`);
      if (fault) return fault;
    }
  }

  if (options.key !== undefined && options.key !== null) {
    const expected = eventKey(event);
    if (options.key !== expected) return fail('key_mismatch', `message key ${options.key.slice(0, 80)} != ${expected}`);
  }
  return { ok: true, event };
}

export function isSessionEvent(event: ContractEvent): event is SessionEvent {
  return 'sessionId' in event;
}

/**
 * The message key of an event, as producers must set it. Sessions key by
 * sessionId (one session, one partition, in order). On the compacted
 * integrations topic each key is its own compaction key, so compaction keeps
 * the latest upsert of an integration and the latest state of every API key.
 */
export function eventKey(event: ContractEvent): string {
  if (isSessionEvent(event)) return event.sessionId;
  if (event.type === 'integration.upserted') return event.integrationId;
  return `${event.integrationId}/${event.data.keyId}`;
}
