/** The LMS platforms whose course URLs the read model recognises; part of the API's vocabulary. */
export const LMS_PLATFORMS = [
  'canvas',
  'moodle',
  'blackboard',
  'd2l',
  'schoology',
  'sakai',
  'google_classroom',
  'open_edx',
  'coursera',
] as const;
export type LmsPlatform = (typeof LMS_PLATFORMS)[number];
