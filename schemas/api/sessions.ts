import { ACTIVITY_KINDS, SESSION_STATUSES } from '../events/session-events.js';
import { dataEnvelope, decimalParam, IsoDateTimeSchema, IsoInstantParam, listEnvelope, pageQueryFields } from './common.js';
import { z } from './zod.js';

export const SessionStatusEnum = z.enum(SESSION_STATUSES).openapi('SessionStatus', {
  description: 'Verdict of the latest score: unscored until the first score arrives',
});

export const SessionIdParam = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -')
  .openapi({ description: 'Session id', example: 'ses_01JD6Y8ZK3M4N5P6Q7R8S9T0UV' });

/** Exactly the fields of the contract's SessionResponse. */
export const SessionSchema = z
  .object({
    id: z.string(),
    createdAt: IsoDateTimeSchema,
    updatedAt: IsoDateTimeSchema,
    status: SessionStatusEnum,
    botScore: z.number().min(0).max(1).nullable().openapi({ description: 'Latest bot score 0..1; null while unscored' }),
    detectionFlags: z.array(z.string()),
    pageUrl: z.string().nullable().openapi({ description: 'Landing page' }),
    userAgentSummary: z.string().nullable(),
    userId: z.string().nullable().openapi({ description: 'LMS user id once the session is identified' }),
    userName: z.string().nullable(),
    userUrl: z.string().nullable(),
  })
  .openapi('Session');
export type SessionResource = z.infer<typeof SessionSchema>;

export const SessionResponseSchema = dataEnvelope(SessionSchema, 'SessionResponse');
export const SessionListResponseSchema = listEnvelope(SessionSchema, 'SessionList');

export const SessionListQuery = z
  .object({
    ...pageQueryFields,
    since: IsoInstantParam.optional().openapi({ description: 'Sessions created at or after this instant' }),
    until: IsoInstantParam.optional().openapi({ description: 'Sessions created before this instant' }),
    status: z
      .string()
      .transform((s) => s.split(','))
      .pipe(z.array(SessionStatusEnum).min(1).max(4))
      .optional()
      .openapi({ type: 'string', description: 'One or more statuses, comma-separated (e.g. `bot,suspicious`)' }),
    minScore: decimalParam(z.number().min(0).max(1)).optional(),
    maxScore: decimalParam(z.number().min(0).max(1)).optional(),
    flag: z.string().regex(/^[a-z0-9_]{1,64}$/).optional().openapi({ description: 'Sessions carrying this detection flag' }),
    userId: z.string().min(1).max(128).optional(),
    course: z.string().min(1).max(300).optional().openapi({ description: 'A course id from /v1/courses' }),
    pageUrl: z.string().min(1).max(2048).optional().openapi({ description: 'Sessions whose landing page URL starts with this prefix' }),
  })
  .strict()
  .refine((q) => q.minScore === undefined || q.maxScore === undefined || q.minScore <= q.maxScore, {
    message: 'minScore must not exceed maxScore',
    path: ['minScore'],
  })
  .refine((q) => !q.since || !q.until || q.since < q.until, { message: 'since must be before until', path: ['since'] });
export type SessionListFilters = z.infer<typeof SessionListQuery>;

export const TimelineEntrySchema = z
  .object({
    eventId: z.string(),
    type: z.string().openapi({ example: 'page_viewed' }),
    occurredAt: IsoDateTimeSchema,
    pageUrl: z.string().nullable(),
    attributes: z.record(z.unknown()),
  })
  .openapi('TimelineEntry');

export const PageViewSchema = z
  .object({ pageUrl: z.string(), title: z.string().nullable(), viewedAt: IsoDateTimeSchema })
  .openapi('PageView');

export const SessionDetailsSchema = z
  .object({
    session: SessionSchema,
    endedAt: IsoDateTimeSchema.nullable(),
    modelVersion: z.string().nullable(),
    timeline: z.array(TimelineEntrySchema).openapi({ description: 'Lifecycle events in time order (start, pages, scores, identification, end)' }),
    eventCounts: z.record(z.number().int()).openapi({ description: 'Event-level metadata counted by kind', example: { click: 12, scroll: 40 } }),
    pageHistory: z.array(PageViewSchema),
    courses: z.array(z.string()),
  })
  .openapi('SessionDetails');
export const SessionDetailsResponseSchema = dataEnvelope(SessionDetailsSchema, 'SessionDetailsResponse');

export const SessionEventSchema = z
  .object({
    id: z.string().openapi({ description: 'Unique within the session: `<eventId>:<seq>`' }),
    eventId: z.string(),
    kind: z.enum([...ACTIVITY_KINDS, 'started', 'page_viewed', 'scored', 'identified', 'ended']),
    occurredAt: IsoDateTimeSchema,
    pageUrl: z.string().nullable(),
    attributes: z.record(z.unknown()),
  })
  .openapi('SessionEvent');
export type SessionEventResource = z.infer<typeof SessionEventSchema>;

export const SessionEventListQuery = z
  .object({
    ...pageQueryFields,
    kind: z.string().regex(/^[a-z_]{1,32}$/).optional().openapi({ description: 'Only events of this kind' }),
  })
  .strict();
export const SessionEventListResponseSchema = listEnvelope(SessionEventSchema, 'SessionEventList');
