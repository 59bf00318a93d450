import { SESSION_EVENT_TYPES } from '../events/envelope.js';
import { SESSION_STATUSES } from '../events/session-events.js';
import { dataEnvelope, IsoDateTimeSchema, IsoInstantParam } from './common.js';
import { z } from './zod.js';

export const GRANULARITIES = ['hour', 'day', 'week'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export const BREAKDOWNS = ['status', 'flag', 'eventType'] as const;
export type Breakdown = (typeof BREAKDOWNS)[number];

/** More buckets than this is a range too long for its granularity: the answer would be megabytes of mostly zeros. */
export const MAX_BUCKETS = 2000;

export const AnalyticsQuery = z
  .object({
    since: IsoInstantParam.optional().openapi({
      description: 'Start of the period, aligned down to its bucket. Default: 30 days before `until`',
    }),
    until: IsoInstantParam.optional().openapi({ description: 'End of the period (exclusive), aligned up to a bucket boundary. Default: now' }),
    granularity: z
      .enum(GRANULARITIES)
      .default('day')
      .openapi({ description: `Bucket size (UTC; weeks start on Monday). At most ${MAX_BUCKETS} buckets per request` }),
    breakdown: z.enum(BREAKDOWNS).optional().openapi({
      description: '`flag` adds `byFlag` and `eventType` adds `byEventType` to every bucket; `byStatus` is always there, so `status` adds nothing',
    }),
  })
  .strict()
  .refine((q) => !q.since || !q.until || q.since < q.until, { message: 'since must be before until', path: ['since'] });
export type AnalyticsParams = z.infer<typeof AnalyticsQuery>;

const count = () => z.number().int();

export const StatusCountsSchema = z
  .object(Object.fromEntries(SESSION_STATUSES.map((s) => [s, count()])) as Record<(typeof SESSION_STATUSES)[number], z.ZodNumber>)
  .openapi('StatusCounts', { description: 'Sessions by their latest verdict' });

const EventTypeCountsSchema = z
  .object(Object.fromEntries(SESSION_EVENT_TYPES.map((t) => [t, count()])) as Record<(typeof SESSION_EVENT_TYPES)[number], z.ZodNumber>)
  .openapi('EventTypeCounts', { description: 'Events received, by event type' });

export const AnalyticsBucketSchema = z
  .object({
    bucket: IsoDateTimeSchema.openapi({ description: 'Start of the bucket' }),
    sessions: count().openapi({ description: 'Sessions that started in the bucket' }),
    byStatus: StatusCountsSchema,
    flaggedSessions: count().openapi({ description: 'Sessions whose latest verdict is `suspicious` or `bot`' }),
    events: count().openapi({ description: 'Events received with an occurrence time in the bucket' }),
    activities: count().openapi({ description: 'Event-level metadata records (activity items) in the bucket' }),
    byFlag: z.record(count()).optional().openapi({ description: 'With `breakdown=flag`: sessions carrying each flag seen in the period', example: { paste_heavy: 3 } }),
    byEventType: EventTypeCountsSchema.optional(),
  })
  .openapi('AnalyticsBucket');
export type AnalyticsBucket = z.infer<typeof AnalyticsBucketSchema>;

const PeriodSchema = z.object({ since: IsoDateTimeSchema, until: IsoDateTimeSchema.openapi({ description: 'Exclusive' }) }).openapi('Period');

const changePct = () => z.number().nullable().openapi({ description: 'Change against the previous period in percent; null when the previous period had none' });

export const AnalyticsSummarySchema = z
  .object({
    sessions: count(),
    byStatus: StatusCountsSchema,
    flaggedSessions: count(),
    botRate: z.number().min(0).max(1).openapi({ description: 'Share of the period\'s sessions whose latest verdict is `bot`, 0 without sessions' }),
    events: count(),
    activities: count(),
    topFlags: z
      .array(z.object({ flag: z.string(), sessions: count() }))
      .openapi({ description: 'The most frequent detection flags of the period\'s sessions, most frequent first (at most 10)' }),
    trend: z
      .object({
        previousPeriod: PeriodSchema,
        sessions: count(),
        flaggedSessions: count(),
        events: count(),
        sessionsChangePct: changePct(),
        flaggedSessionsChangePct: changePct(),
        eventsChangePct: changePct(),
      })
      .openapi({ description: 'The same figures for the period of equal length just before this one' }),
  })
  .openapi('AnalyticsSummary', { description: 'Totals of the series, exactly' });
export type AnalyticsSummary = z.infer<typeof AnalyticsSummarySchema>;

export const AnalyticsSchema = z
  .object({
    period: PeriodSchema,
    granularity: z.enum(GRANULARITIES),
    breakdown: z.enum(BREAKDOWNS).nullable(),
    series: z.array(AnalyticsBucketSchema).openapi({ description: 'Every bucket of the period in time order, zero-filled' }),
    summary: AnalyticsSummarySchema,
  })
  .openapi('Analytics');
export type Analytics = z.infer<typeof AnalyticsSchema>;

export const AnalyticsResponseSchema = dataEnvelope(AnalyticsSchema, 'AnalyticsResponse');
