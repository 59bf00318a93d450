import { IsoDateTimeSchema, IsoInstantParam, listEnvelope, pageQueryFields } from './common.js';
import { SessionSchema } from './sessions.js';
import { z } from './zod.js';

/** The same alphabet session.identified accepts for userId, so every stored user id is addressable. */
export const UserIdParam = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -')
  .openapi({ description: 'LMS user id, as reported by the integration', example: 'lms_user_88123' });

export const UserSchema = z
  .object({
    id: z.string().openapi({ description: 'LMS user id, as reported by the integration in session.identified', example: 'lms_user_88123' }),
    name: z.string().nullable().openapi({ description: 'Display name from the most recently active session that carried one' }),
    url: z.string().nullable().openapi({ description: 'Profile URL in the LMS, from the most recently active session that carried one' }),
    sessionCount: z.number().int().openapi({ description: 'Sessions identified as this user' }),
    flaggedSessionCount: z.number().int().openapi({ description: 'Of those, sessions whose latest verdict is `suspicious` or `bot`' }),
    firstSeenAt: IsoDateTimeSchema.openapi({ description: 'Start of the user\'s earliest session' }),
    lastSeenAt: IsoDateTimeSchema.openapi({ description: 'Last activity in any of the user\'s sessions' }),
  })
  .openapi('User');
export type UserResource = z.infer<typeof UserSchema>;

export const UserListQuery = z
  .object({
    ...pageQueryFields,
    flagged: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional()
      .openapi({ type: 'string', enum: ['true', 'false'], description: '`true`: only users with at least one flagged session; `false`: only users with none' }),
    since: IsoInstantParam.optional().openapi({ description: 'Users last seen at or after this instant' }),
    until: IsoInstantParam.optional().openapi({ description: 'Users last seen before this instant' }),
  })
  .strict()
  .refine((q) => !q.since || !q.until || q.since < q.until, { message: 'since must be before until', path: ['since'] });
export type UserListFilters = Omit<z.infer<typeof UserListQuery>, 'limit' | 'cursor'>;

export const UserListResponseSchema = listEnvelope(UserSchema, 'UserList');

export const UserSessionListQuery = z.object({ ...pageQueryFields }).strict();
/** Items are the very resource of /v1/sessions, so a client handles both lists with one type. */
export const UserSessionListResponseSchema = listEnvelope(SessionSchema, 'UserSessionList');
