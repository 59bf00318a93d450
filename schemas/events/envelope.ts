// zod 4's compiled object parsers: every consumed event is parsed with these, and zod 3 cost 3-4x more per event.
import { z } from 'zod/v4';
// zod 3 only for its datetime pattern, so the accepted timestamps stay exactly what the contract has always accepted.
import { z as zod3 } from 'zod';

/** Identifiers travel in URLs and Redis keys, so they are kept to a safe alphabet. */
export const IdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -');

/**
 * ISO-8601 with an offset; the contract carries millisecond precision. This is
 * zod's own `.datetime({ offset: true })` pattern and message, compiled once:
 * `.datetime()` rebuilds its RegExp on every parse, and an activity batch
 * carries up to 60 timestamps (a hot spot in the projector's CPU profile).
 */
const ISO_DATETIME = zod3.datetimeRegex({ offset: true, local: false, precision: null });
export const TimestampSchema = z.string().regex(ISO_DATETIME, 'Invalid datetime');

/**
 * The form toISOString writes for the years 0000-9999, `YYYY-MM-DDThh:mm:ss.sssZ`.
 * Two valid timestamps of this form order as their instants do, so the hot
 * paths (the time window of every activity, the fold's comparisons) compare
 * them as text and parse only timestamps in another form.
 */
export const CANONICAL_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * Events further than this from the projector's clock are rejected: a far-future
 * timestamp would pin a session's "latest" fields forever, an ancient one is a
 * replayed or forged event.
 */
export const MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;
export const OLDEST_ACCEPTED = Date.parse('2015-01-01T00:00:00Z');

export const envelopeFields = {
  eventId: IdSchema,
  schemaVersion: z.literal(1),
  integrationId: IdSchema,
  occurredAt: TimestampSchema,
};

export const SESSION_EVENT_TYPES = [
  'session.started',
  'session.page_viewed',
  'session.activity',
  'session.scored',
  'session.identified',
  'session.ended',
] as const;

export const INTEGRATION_EVENT_TYPES = ['integration.upserted', 'apikey.issued', 'apikey.revoked'] as const;

export const EVENT_TYPES = [...SESSION_EVENT_TYPES, ...INTEGRATION_EVENT_TYPES] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Versions this build understands, per type. An event of another version is dead-lettered. */
export const SUPPORTED_VERSIONS: Readonly<Record<EventType, readonly number[]>> = {
  'session.started': [1],
  'session.page_viewed': [1],
  'session.activity': [1],
  'session.scored': [1],
  'session.identified': [1],
  'session.ended': [1],
  'integration.upserted': [1],
  'apikey.issued': [1],
  'apikey.revoked': [1],
};
