/**
 * Finds the LMS course a page belongs to, from the page URL alone.
 *
 * Institutions run their LMS on their own domains (canvas.university.edu,
 * learn.uni.ac.uk, moodle.school.org ...), so the platform is recognised by the
 * shape of the path first; the host only breaks ties and vouches for shapes that
 * are too generic to trust on their own (Coursera's `/learn/`, pre-2015 edX).
 * Pure and total: any input, however broken, yields a CourseRef or null.
 */

import { LMS_PLATFORMS, type LmsPlatform } from '../../schemas/lms.js';

export { LMS_PLATFORMS, type LmsPlatform };

export interface CourseRef {
  platform: LmsPlatform;
  /** The platform's own course identifier, as the LMS shows it (e.g. `48213`, `_123_1`, `course-v1:MITx+6.00.1x+2T2024`). */
  courseId: string;
  /** `${platform}:${host}:${courseId}` with the id escaped, so it is safe in URLs, query strings and Redis keys. */
  key: string;
  host: string;
}

/**
 * Every key matches this. Characters outside `[A-Za-z0-9._:-]` in a course id
 * become `~XX` (UTF-8 bytes in hex): unlike `%XX` it survives a URL decode
 * unchanged, and unlike a lossy replacement two ids never share a key.
 */
export const COURSE_KEY_PATTERN = /^[a-z0-9_]+:[a-z0-9.-]+:[A-Za-z0-9._:~-]+$/;

const MAX_URL_LENGTH = 4096;
const MAX_COURSE_ID_LENGTH = 128;

interface Page {
  host: string;
  /** Decoded path segments, as written. */
  segments: string[];
  /** The same segments lowercased, for matching fixed words. */
  lower: string[];
  params: URLSearchParams;
  hint: LmsPlatform | null;
}

type Match = { platform: LmsPlatform; courseId: string } | null;

const NUMERIC = /^\d+$/;
const BLACKBOARD_ID = /^_\d+_\d+$/;
const OPEN_EDX_KEY = /^(?:course|ccx)-v1:[^+/\s]+\+[^+/\s]+\+[^/\s]+$/;
const OLD_EDX_PART = /^[A-Za-z0-9._-]+$/;
const OLD_EDX_TOOLS = new Set(['courseware', 'info', 'progress', 'about', 'discussion', 'wiki', 'syllabus', 'instructor', 'course', 'jump_to', 'book', 'pdfbook']);

const numeric = (value: string | null | undefined): value is string => value !== null && value !== undefined && NUMERIC.test(value);
const match = (platform: LmsPlatform, courseId: string | null | undefined): Match =>
  courseId ? { platform, courseId } : null;

function canvas({ segments, lower }: Page): Match {
  // Page URLs and the occasional API URL; "123~456" is Canvas' shard-qualified id.
  const at = lower[0] === 'courses' ? 1 : lower[0] === 'api' && lower[1] === 'v1' && lower[2] === 'courses' ? 3 : -1;
  const id = segments[at];
  return at > 0 && id !== undefined && /^\d+(?:~\d+)?$/.test(id) ? match('canvas', id) : null;
}

const MOODLE_DIRS = new Set(['course', 'mod', 'grade', 'user', 'enrol', 'report', 'calendar', 'question', 'blocks', 'local', 'badges', 'completion', 'backup', 'admin']);
/** Pages whose `id` parameter is a course id; on most others (`mod/x/view.php`) it is an activity id. */
const MOODLE_COURSE_ID_PAGES = /^(?:course\/(?:view|edit|resources|user|reset|completion|admin)\.php|(?:user|enrol)\/index\.php|mod\/[a-z0-9_]+\/index\.php|(?:grade\/)?report\/[a-z0-9_]+\/index\.php)$/;
const MOODLE_SITE_COURSE = '1';

function moodle({ lower, params }: Page): Match {
  const file = lower.at(-1);
  if (file === undefined || !file.endsWith('.php')) return null;
  // Moodle is often installed under a sub-directory (/moodle/course/view.php), so look for its layout anywhere.
  const dir = lower.findIndex((s) => MOODLE_DIRS.has(s));
  if (dir < 0) return null;
  const page = lower.slice(dir).join('/');
  const explicit = [params.get('course'), params.get('courseid')].find(numeric);
  const id = explicit ?? (MOODLE_COURSE_ID_PAGES.test(page) && numeric(params.get('id')) ? params.get('id') : null);
  // Course 1 is the site front page, not a course.
  return id === MOODLE_SITE_COURSE ? null : match('moodle', id);
}

function blackboard({ segments, lower, params }: Page): Match {
  const ultra = lower[0] === 'ultra' && lower[1] === 'courses' ? segments[2] : undefined;
  const api = lower.slice(0, 5).join('/') === 'learn/api/public/v1/courses' ? segments[5] : undefined;
  let id = ultra ?? api;
  if (id === undefined && lower[0] === 'webapps') {
    const launcher = lower.at(-1) === 'launcher' && params.get('type')?.toLowerCase() === 'course';
    id = params.get('course_id') ?? (launcher ? params.get('id') : null) ?? undefined;
  }
  return id !== undefined && BLACKBOARD_ID.test(id) ? match('blackboard', id) : null;
}

function d2l({ segments, lower, params }: Page): Match {
  if (lower[0] !== 'd2l') return null;
  // /d2l/home/{ou}, /d2l/le/{ou}/discussions, /d2l/le/content/{ou}/Home, /d2l/le/calendar/{ou} ...
  if (lower[1] === 'home' && numeric(segments[2])) return match('d2l', segments[2]);
  if (lower[1] === 'le') {
    if (numeric(segments[2])) return match('d2l', segments[2]);
    if (numeric(segments[3])) return match('d2l', segments[3]);
  }
  const ou = params.get('ou') ?? params.get('OU');
  return numeric(ou) ? match('d2l', ou) : null;
}

function schoology({ segments, lower }: Page): Match {
  return lower[0] === 'course' && numeric(segments[1]) ? match('schoology', segments[1]) : null;
}

function sakai({ segments, lower }: Page): Match {
  let id: string | undefined;
  if (lower[0] === 'portal' && lower[1] === 'site') id = segments[2];
  else if (lower[0] === 'access' && lower[1] === 'content' && lower[2] === 'group') id = segments[3];
  // "~user" is a personal workspace and "!gateway" / "!admin" are system sites: neither is a course.
  return id !== undefined && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id) ? match('sakai', id) : null;
}

function googleClassroom({ segments, lower }: Page): Match {
  // /c/{id}, /u/1/c/{id}, /w/{id}/t/all (classwork), /r/{id}/sort-last-name (people), /g/tg/{id}/... (grading).
  const at = lower[0] === 'u' && numeric(segments[1]) ? 2 : 0;
  const [tool, sub] = [lower[at], lower[at + 1]];
  const id = tool === 'c' || tool === 'w' || tool === 'r' ? segments[at + 1] : tool === 'g' && (sub === 'tg' || sub === 'sg') ? segments[at + 2] : undefined;
  return id !== undefined && /^[A-Za-z0-9_-]{6,}$/.test(id) ? match('google_classroom', id) : null;
}

function openEdx({ segments, lower, hint }: Page): Match {
  // Legacy LMS: /courses/{key}/...; learning MFE: /course/{key}/home, also mounted under /learning.
  const at = lower[0] === 'learning' ? 1 : 0;
  const key = lower[at] === 'courses' || lower[at] === 'course' ? segments[at + 1] : undefined;
  if (key !== undefined && OPEN_EDX_KEY.test(key)) return match('open_edx', key);
  // Pre-2015 keys are three path segments (Org/Number/Run): too generic to trust without a host hint or an edX tool after them.
  const [org, num, run] = segments.slice(1, 4);
  const trusted = hint === 'open_edx' || OLD_EDX_TOOLS.has(lower[4] ?? '');
  if (lower[0] !== 'courses' || !trusted || org === undefined || num === undefined || run === undefined) return null;
  if (NUMERIC.test(org) || ![org, num, run].every((p) => OLD_EDX_PART.test(p))) return null;
  return match('open_edx', `${org}/${num}/${run}`);
}

function coursera({ lower }: Page): Match {
  const slug = lower[0] === 'learn' || lower[0] === 'lecture' ? lower[1] : undefined;
  return slug !== undefined && /^[a-z0-9][a-z0-9-]*$/.test(slug) ? match('coursera', slug) : null;
}

const MATCHERS: Readonly<Record<LmsPlatform, (page: Page) => Match>> = {
  canvas,
  moodle,
  blackboard,
  d2l,
  schoology,
  sakai,
  google_classroom: googleClassroom,
  open_edx: openEdx,
  coursera,
};

/** Most specific shapes first: an edX key or a Blackboard `_1_1` id cannot be mistaken, a bare `/course/123` can. */
const PATH_ORDER: readonly LmsPlatform[] = ['open_edx', 'blackboard', 'd2l', 'sakai', 'moodle', 'canvas', 'schoology'];

/** Services that exist on one domain only, where the host alone names the platform. */
function hostedPlatform(host: string): LmsPlatform | null {
  if (host === 'classroom.google.com') return 'google_classroom';
  if (host === 'coursera.org' || host.endsWith('.coursera.org')) return 'coursera';
  return null;
}

function hostHint(host: string): LmsPlatform | null {
  const labels = host.split(/[.-]/);
  if (host.endsWith('.instructure.com') || labels.includes('canvas')) return 'canvas';
  if (host.includes('moodle')) return 'moodle';
  if (host.includes('blackboard') || labels.includes('bb')) return 'blackboard';
  if (host.includes('brightspace') || labels.includes('d2l')) return 'd2l';
  if (host.includes('schoology')) return 'schoology';
  if (host.includes('sakai')) return 'sakai';
  if (labels.includes('edx') || labels.includes('openedx')) return 'open_edx';
  return null;
}

function normaliseHost(hostname: string, platform: LmsPlatform): string {
  let host = hostname.toLowerCase().replace(/\.$/, '').replace(/^www\./, '');
  // One Open edX site answers on several hosts (courses.*, learning.* for the MFE); they are one course catalogue.
  if (platform === 'open_edx') host = host.replace(/^(?:courses|learning|apps)\.(?=[^.]+\.[^.]+)/, '');
  return host;
}

function escapeId(id: string): string {
  return id.replace(/[^A-Za-z0-9._:-]/gu, (char) =>
    Array.from(new TextEncoder().encode(char), (byte) => `~${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** Builds the key of a course; exported so fixtures and projections never assemble one by hand. */
export function courseKey(platform: LmsPlatform, host: string, courseId: string): string {
  return `${platform}:${host}:${escapeId(courseId)}`;
}

const isPlatform = (value: string): value is LmsPlatform => (LMS_PLATFORMS as readonly string[]).includes(value);

/**
 * The inverse of `courseKey`: a stored key back to its parts, or null if it is
 * not a key this module could have made (so a key from a URL can be trusted).
 */
export function parseCourseKey(key: string): CourseRef | null {
  if (typeof key !== 'string' || key.length > MAX_URL_LENGTH || !COURSE_KEY_PATTERN.test(key)) return null;
  const [platform = '', host = ''] = key.split(':', 2);
  const escaped = key.slice(platform.length + host.length + 2);
  if (!isPlatform(platform)) return null;
  let courseId: string;
  try {
    courseId = decodeURIComponent(escaped.replace(/~([0-9A-F]{2})/g, '%$1'));
  } catch {
    return null; // "~" not followed by a UTF-8 sequence
  }
  // Only the canonical spelling counts, so one course never has two keys.
  return courseKey(platform, host, courseId) === key ? { platform, courseId, host, key } : null;
}

function parsePage(pageUrl: string): Page | null {
  let url: URL;
  try {
    url = new URL(pageUrl);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  // IPv6 literals and other exotic hosts are not LMS deployments, and would break the key's alphabet.
  if (!/^[a-z0-9.-]+$/.test(url.hostname)) return null;
  let segments: string[];
  try {
    segments = url.pathname.split('/').filter((s) => s.length > 0).map((s) => decodeURIComponent(s));
  } catch {
    return null; // a broken percent-escape
  }
  const host = url.hostname;
  return { host, segments, lower: segments.map((s) => s.toLowerCase()), params: url.searchParams, hint: hostHint(host) };
}

function detect(page: Page): Match {
  const hosted = hostedPlatform(page.host);
  if (hosted) return MATCHERS[hosted](page);
  const order = page.hint ? [page.hint, ...PATH_ORDER.filter((p) => p !== page.hint)] : PATH_ORDER;
  for (const platform of order) {
    const found = MATCHERS[platform](page);
    if (found) return found;
  }
  return null;
}

/**
 * Recent answers of extractCourse, by URL. It is a pure function of the URL,
 * and a session's events name the same few pages again and again: parsing
 * each one with URL and the platform matchers was about a third of folding a
 * simulated event. Emptied when full, so it holds at most this many.
 */
const RECENT_PAGES_MAX = 4_096;
const recentPages = new Map<string, Readonly<CourseRef> | null>();

export function extractCourse(pageUrl: string): Readonly<CourseRef> | null {
  if (typeof pageUrl !== 'string') return null;
  const known = recentPages.get(pageUrl);
  if (known !== undefined) return known;
  // Frozen: every caller of this URL shares the one answer.
  const course = extractCourseOnce(pageUrl);
  if (course !== null) Object.freeze(course);
  if (recentPages.size >= RECENT_PAGES_MAX) recentPages.clear();
  recentPages.set(pageUrl, course);
  return course;
}

function extractCourseOnce(pageUrl: string): CourseRef | null {
  if (pageUrl.length === 0 || pageUrl.length > MAX_URL_LENGTH) return null;
  const page = parsePage(pageUrl.trim());
  if (page === null) return null;
  const found = detect(page);
  if (found === null || found.courseId.length > MAX_COURSE_ID_LENGTH) return null;
  const host = normaliseHost(page.host, found.platform);
  return { platform: found.platform, courseId: found.courseId, host, key: courseKey(found.platform, host, found.courseId) };
}
