import { dataEnvelope, IsoInstantParam } from './common.js';
import { z } from './zod.js';

export const MAX_USAGE_DAYS = 366;

const DateParam = IsoInstantParam.openapi({ type: 'string', format: 'date', example: '2026-11-01' });

export const UsageQuery = z
  .object({
    since: DateParam.optional().openapi({ description: 'First day (UTC), default 30 days ago' }),
    until: DateParam.optional().openapi({ description: 'Last day (UTC, inclusive), default today' }),
  })
  .strict();

const Counts = z.object({
  requests: z.number().int(),
  byEndpoint: z.record(z.number().int()).openapi({ example: { 'GET /v1/sessions': 120 } }),
  byStatus: z.record(z.number().int()).openapi({ example: { '200': 118, '404': 2 } }),
});

export const UsageSchema = z
  .object({
    period: z.object({ since: z.string().openapi({ format: 'date' }), until: z.string().openapi({ format: 'date' }) }),
    total: Counts,
    days: z.array(Counts.extend({ date: z.string().openapi({ format: 'date' }) })),
  })
  .openapi('Usage');
export type Usage = z.infer<typeof UsageSchema>;
export const UsageResponseSchema = dataEnvelope(UsageSchema, 'UsageResponse');
