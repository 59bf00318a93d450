import { z } from 'zod/v4';
import { envelopeFields, IdSchema, TimestampSchema } from './envelope.js';

/** Pages are web pages: other schemes (javascript:, data:) would be served back to API readers. */
const UrlSchema = z.string().url().max(2048).regex(/^https?:\/\//i, 'must be an http(s) URL');

/** The verdict of the scoring tier; `unscored` until the first session.scored. */
export const SESSION_STATUSES = ['unscored', 'human', 'suspicious', 'bot'] as const;
export const SessionStatusSchema = z.enum(SESSION_STATUSES);
export type SessionStatus = z.infer<typeof SessionStatusSchema>;

/** What the scoring tier can publish (it never publishes `unscored`). */
export const ScoredStatusSchema = z.enum(['human', 'suspicious', 'bot']);

export const DETECTION_FLAGS = [
  'headless_browser',
  'webdriver',
  'automation_framework',
  'no_mouse_movement',
  'linear_mouse_path',
  'superhuman_typing',
  'paste_heavy',
  'instant_navigation',
  'datacenter_ip',
  'inconsistent_fingerprint',
  'llm_agent_signature',
  'tab_hidden_activity',
] as const;
/** Flags are open-ended strings (the scoring tier adds new ones without a release); known ones are listed above. */
export const DetectionFlagSchema = z.string().min(1).max(64).regex(/^[a-z0-9_]+$/);

export const ACTIVITY_KINDS = [
  'click',
  'scroll',
  'keypress',
  'mousemove',
  'focus',
  'blur',
  'paste',
  'copy',
  'visibility',
  'form_submit',
  'navigation',
] as const;
export const ActivityKindSchema = z.enum(ACTIVITY_KINDS);
export type ActivityKind = z.infer<typeof ActivityKindSchema>;

export const MAX_ATTRIBUTES = 16;
const MAX_ATTRIBUTE_NAME = 64;
const MAX_ATTRIBUTE_TEXT = 256;
/**
 * Numbers first: most attributes are counts and measures, and zod builds an
 * issue (with its message) for every option a value fails before the one it
 * matches. The options accept disjoint types, so the order changes neither
 * what passes nor the errors.
 */
const AttributeValue = z.union([z.number().finite(), z.string().max(MAX_ATTRIBUTE_TEXT), z.boolean()]);
/** What activity attributes are: the one definition. ActivitySchema checks it through a faster path (see AttributesSchema). */
export const AttributesRecord = z
  .record(z.string().max(MAX_ATTRIBUTE_NAME), AttributeValue)
  .refine((a) => Object.keys(a).length <= MAX_ATTRIBUTES, `at most ${MAX_ATTRIBUTES} attributes`);
export type ActivityAttributes = z.infer<typeof AttributesRecord>;

/**
 * True only for values AttributesRecord accepts unchanged: a plain object of
 * at most MAX_ATTRIBUTES own keys, none longer than MAX_ATTRIBUTE_NAME, each
 * holding a finite number, a boolean or a string no longer than
 * MAX_ATTRIBUTE_TEXT. Two keys are left to zod:
 * `__proto__`, which its record drops, and `constructor`, which its
 * plain-object test reads (a record holding one is refused). It looks at
 * enumerable string keys only, which is all JSON.parse makes: the input of
 * decodeEvent, the one caller.
 */
function isPlainAttributes(value: unknown): value is ActivityAttributes {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const keys = Object.keys(value);
  if (keys.length > MAX_ATTRIBUTES) return false;
  for (const key of keys) {
    if (key.length > MAX_ATTRIBUTE_NAME || key === '__proto__' || key === 'constructor') return false;
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'number' ? !Number.isFinite(v) : typeof v === 'string' ? v.length > MAX_ATTRIBUTE_TEXT : typeof v !== 'boolean') return false;
  }
  return true;
}

/**
 * The attributes as AttributesRecord defines them, checked by a plain loop
 * first: zod's record parser builds a payload per key and value and a new
 * object per record, and an activity batch carries about 14 records, so it was
 * half of the zod time of a simulated event (5.5 of 12.7 µs). Whatever the loop
 * does not accept goes through AttributesRecord, whose output or issues stand,
 * so what is accepted, what comes out and the errors all stay the record's.
 */
const AttributesSchema = z.custom<ActivityAttributes>().check((payload) => {
  if (isPlainAttributes(payload.value)) return;
  const parsed = AttributesRecord.safeParse(payload.value);
  // Its output, not the input: the record parser drops what it does not keep (a `__proto__` key).
  if (parsed.success) payload.value = parsed.data;
  else for (const issue of parsed.error.issues) payload.issues.push({ code: 'custom', message: issue.message, path: issue.path, input: payload.value });
});

export const ActivitySchema = z.object({
  kind: ActivityKindSchema,
  at: TimestampSchema,
  pageUrl: UrlSchema.optional(),
  attributes: AttributesSchema.optional(),
});
export type Activity = z.infer<typeof ActivitySchema>;

const sessionFields = { ...envelopeFields, sessionId: IdSchema };

export const SessionStartedSchema = z.object({
  ...sessionFields,
  type: z.literal('session.started'),
  data: z.object({
    pageUrl: UrlSchema,
    userAgentSummary: z.string().max(256),
    referrer: UrlSchema.optional(),
  }),
});

export const SessionPageViewedSchema = z.object({
  ...sessionFields,
  type: z.literal('session.page_viewed'),
  data: z.object({ pageUrl: UrlSchema, title: z.string().max(512).optional() }),
});

export const SessionActivitySchema = z.object({
  ...sessionFields,
  type: z.literal('session.activity'),
  data: z.object({ activities: z.array(ActivitySchema).min(1).max(500) }),
});

export const SessionScoredSchema = z.object({
  ...sessionFields,
  type: z.literal('session.scored'),
  data: z.object({
    botScore: z.number().min(0).max(1),
    status: ScoredStatusSchema,
    detectionFlags: z.array(DetectionFlagSchema).max(32),
    modelVersion: z.string().min(1).max(64),
  }),
});

/** LMS user ids come in many shapes (Blackboard `_123_1`, e-mail logins): any printable text, no control characters. */
export const LmsUserIdSchema = z.string().min(1).max(256).regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

export const SessionIdentifiedSchema = z.object({
  ...sessionFields,
  type: z.literal('session.identified'),
  data: z.object({
    userId: LmsUserIdSchema,
    userName: z.string().max(256).optional(),
    userUrl: UrlSchema.optional(),
  }),
});

export const SessionEndedSchema = z.object({
  ...sessionFields,
  type: z.literal('session.ended'),
  data: z.object({ reason: z.enum(['closed', 'timeout', 'navigated_away']).default('closed') }),
});

export const SessionEventSchema = z.discriminatedUnion('type', [
  SessionStartedSchema,
  SessionPageViewedSchema,
  SessionActivitySchema,
  SessionScoredSchema,
  SessionIdentifiedSchema,
  SessionEndedSchema,
]);

export type SessionStarted = z.infer<typeof SessionStartedSchema>;
export type SessionPageViewed = z.infer<typeof SessionPageViewedSchema>;
export type SessionActivity = z.infer<typeof SessionActivitySchema>;
export type SessionScored = z.infer<typeof SessionScoredSchema>;
export type SessionIdentified = z.infer<typeof SessionIdentifiedSchema>;
export type SessionEnded = z.infer<typeof SessionEndedSchema>;
export type SessionEvent = z.infer<typeof SessionEventSchema>;
