import { z } from 'zod/v4';
import { envelopeFields, IdSchema } from './envelope.js';

export const TIERS = ['free', 'starter', 'pro', 'enterprise'] as const;
export const TierSchema = z.enum(TIERS);
export type Tier = z.infer<typeof TierSchema>;

export const REGIONS = ['us', 'eu'] as const;
export const RegionSchema = z.enum(REGIONS);
export type Region = z.infer<typeof RegionSchema>;

export const IntegrationStatusSchema = z.enum(['active', 'suspended']);
export type IntegrationStatus = z.infer<typeof IntegrationStatusSchema>;

export const IntegrationUpsertedSchema = z.object({
  ...envelopeFields,
  type: z.literal('integration.upserted'),
  data: z.object({
    name: z.string().min(1).max(200),
    tier: TierSchema,
    region: RegionSchema,
    status: IntegrationStatusSchema,
  }),
});

/** Only the SHA-256 of a key ever travels; the raw `aik_v1_...` value stays with whoever minted it. */
export const KeyHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

export const ApiKeyIssuedSchema = z.object({
  ...envelopeFields,
  type: z.literal('apikey.issued'),
  data: z.object({
    keyId: IdSchema,
    keyHash: KeyHashSchema,
    displayPrefix: z.string().regex(/^aik_v1_[A-Za-z0-9]{0,8}$/),
  }),
});

export const ApiKeyRevokedSchema = z.object({
  ...envelopeFields,
  type: z.literal('apikey.revoked'),
  data: z.object({ keyId: IdSchema, keyHash: KeyHashSchema }),
});

export const IntegrationEventSchema = z.discriminatedUnion('type', [
  IntegrationUpsertedSchema,
  ApiKeyIssuedSchema,
  ApiKeyRevokedSchema,
]);

export type IntegrationUpserted = z.infer<typeof IntegrationUpsertedSchema>;
export type ApiKeyIssued = z.infer<typeof ApiKeyIssuedSchema>;
export type ApiKeyRevoked = z.infer<typeof ApiKeyRevokedSchema>;
export type IntegrationEvent = z.infer<typeof IntegrationEventSchema>;
