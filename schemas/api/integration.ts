import { REGIONS, TIERS } from '../events/integration-events.js';
import { dataEnvelope, IsoDateTimeSchema } from './common.js';
import { z } from './zod.js';

export const IntegrationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    tier: z.enum(TIERS),
    region: z.enum(REGIONS),
    status: z.enum(['active', 'suspended']),
    updatedAt: IsoDateTimeSchema.nullable(),
    apiKey: z.object({ id: z.string(), displayPrefix: z.string().nullable() }).openapi({ description: 'The key this request was authenticated with (never the key itself)' }),
    rateLimit: z.object({ limit: z.number().int(), windowSeconds: z.number().int() }),
  })
  .openapi('Integration');
export type IntegrationResource = z.infer<typeof IntegrationSchema>;
export const IntegrationResponseSchema = dataEnvelope(IntegrationSchema, 'IntegrationResponse');
