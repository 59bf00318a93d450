import { LMS_PLATFORMS } from '../lms.js';
import { IsoDateTimeSchema, listEnvelope, pageQueryFields } from './common.js';
import { z } from './zod.js';

export const LmsPlatformEnum = z.enum(LMS_PLATFORMS).openapi('LmsPlatform', { description: 'The LMS a course was recognised on, from the shape of its page URLs' });

export const CourseSchema = z
  .object({
    id: z.string().openapi({
      description: 'Course key `platform:host:courseId`; pass it as `course` to /v1/sessions',
      example: 'canvas:acme.instructure.com:48213',
    }),
    platform: LmsPlatformEnum,
    courseId: z.string().openapi({ description: 'The course id as the LMS shows it', example: '48213' }),
    host: z.string().openapi({ example: 'acme.instructure.com' }),
    sessionCount: z.number().int().openapi({ description: 'Sessions that visited at least one page of the course' }),
    userCount: z.number().int().openapi({ description: 'Distinct identified LMS users among those sessions' }),
    flaggedSessionCount: z.number().int().openapi({ description: 'Of those sessions, the ones whose latest verdict is `suspicious` or `bot`' }),
    firstSeenAt: IsoDateTimeSchema.openapi({ description: 'Start of the earliest session that visited the course' }),
    lastSeenAt: IsoDateTimeSchema.openapi({ description: 'Last activity in any session that visited the course' }),
  })
  .openapi('Course');
export type CourseResource = z.infer<typeof CourseSchema>;

export const CourseListQuery = z
  .object({
    ...pageQueryFields,
    platform: LmsPlatformEnum.optional().openapi({ description: 'Only courses on this LMS' }),
  })
  .strict();
export type CourseListFilters = Omit<z.infer<typeof CourseListQuery>, 'limit' | 'cursor'>;

export const CourseListResponseSchema = listEnvelope(CourseSchema, 'CourseList');
