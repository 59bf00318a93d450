import { SESSION_STATUSES } from '../events/session-events.js';
import { dataEnvelope, IsoDateTimeSchema } from './common.js';
import { z } from './zod.js';

export const StatsSchema = z
  .object({
    sessions: z.number().int().openapi({ description: 'Sessions seen' }),
    sessionsByStatus: z.object(Object.fromEntries(SESSION_STATUSES.map((s) => [s, z.number().int()])) as Record<(typeof SESSION_STATUSES)[number], z.ZodNumber>),
    botSessions: z.number().int(),
    humanSessions: z.number().int(),
    flaggedSessions: z.number().int().openapi({ description: 'Sessions whose latest verdict is suspicious or bot' }),
    identifiedSessions: z.number().int(),
    endedSessions: z.number().int(),
    events: z.number().int().openapi({ description: 'Distinct events received' }),
    eventsByType: z.record(z.number().int()),
    activities: z.number().int().openapi({ description: 'Event-level metadata records (activity items)' }),
    lastEventAt: IsoDateTimeSchema.nullable(),
  })
  .openapi('Stats');
export type Stats = z.infer<typeof StatsSchema>;
export const StatsResponseSchema = dataEnvelope(StatsSchema, 'StatsResponse');
