import { courseKey, type LmsPlatform } from '../../projections/courses/course-url.js';
import type { Rng } from './rng.js';

/**
 * The simulated institutions: which LMS each integration runs, on which
 * host, its courses and its students. Page URLs follow the real shapes of
 * each LMS, so the courses projection sees what production would send.
 */

export interface SimCourse {
  platform: LmsPlatform;
  courseId: string;
  title: string;
  /** The key `extractCourse` gives for this course's pages. */
  key: string;
  /** Origin (and install path, for Moodle under a sub-directory) of its pages. */
  base: string;
}

export interface SimUser {
  userId: string;
  userName: string;
  userUrl?: string;
}

export interface SimPage {
  url: string;
  title: string;
  /** The course the page belongs to, or null for dashboards and activity pages without a course id in the URL. */
  course: SimCourse | null;
}

export interface IntegrationProfile {
  integrationId: string;
  platform: LmsPlatform;
  courses: SimCourse[];
  users: SimUser[];
}

/** Campus-run LMSs, cycled over integrations so a handful of them covers every platform. */
const CAMPUS_PLATFORMS: readonly LmsPlatform[] = ['canvas', 'moodle', 'blackboard', 'd2l', 'schoology', 'sakai', 'open_edx'];
const HOSTED_PLATFORMS: readonly LmsPlatform[] = ['google_classroom', 'coursera'];

const SUBJECTS: readonly (readonly [string, string])[] = [
  ['BIO', 'Introduction to Biology'], ['CHEM', 'General Chemistry'], ['CS', 'Programming Fundamentals'],
  ['MATH', 'Calculus I'], ['HIST', 'World History since 1500'], ['ECON', 'Principles of Microeconomics'],
  ['PSY', 'Introduction to Psychology'], ['ENG', 'Academic Writing'], ['PHYS', 'Mechanics and Waves'],
  ['STAT', 'Applied Statistics'], ['PHIL', 'Ethics and Society'], ['ART', 'Survey of Art History'],
];
const COURSERA_SLUGS = ['machine-learning', 'python-for-everybody', 'learning-how-to-learn', 'data-analysis-with-r', 'financial-markets-global', 'english-for-career-development'];
const FIRST = ['Jordan', 'Avery', 'Maya', 'Liam', 'Sofia', 'Noah', 'Priya', 'Mateo', 'Chloe', 'Kenji', 'Amara', 'Lucas', 'Zoe', 'Omar', 'Hannah', 'Diego', 'Aisha', 'Ethan', 'Lena', 'Tariq'];
const LAST = ['Lee', 'Garcia', 'Patel', 'Nguyen', 'Smith', 'Kowalski', 'Okafor', 'Rossi', 'Johansson', 'Kim', 'Haddad', 'Murphy', 'Silva', 'Tanaka', 'Dubois', 'Cohen', 'Brown', 'Novak', 'Reyes', 'Singh'];

function institutionSlug(integrationId: string): string {
  const slug = integrationId.toLowerCase().replace(/^int[_-]/, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return slug.length > 0 ? slug.slice(0, 40) : 'campus';
}

/** Where a platform's pages live for one institution; custom domains are as common as vendor ones. */
function platformBase(platform: LmsPlatform, slug: string, rng: Rng): string {
  switch (platform) {
    case 'canvas': return rng.pick([`https://${slug}.instructure.com`, `https://canvas.${slug}.edu`]);
    case 'moodle': return rng.pick([`https://moodle.${slug}.org`, `https://www.${slug}.edu/moodle`]);
    case 'blackboard': return rng.pick([`https://learn.${slug}.ac.uk`, `https://${slug}.blackboard.com`]);
    case 'd2l': return rng.pick([`https://${slug}.brightspace.com`, `https://learn.${slug}.ca`]);
    case 'schoology': return rng.pick([`https://${slug}.schoology.com`, 'https://app.schoology.com']);
    case 'sakai': return rng.pick([`https://sakai.${slug}.edu`, `https://lms.${slug}.edu`]);
    case 'open_edx': return `https://courses.${slug}.org`;
    case 'google_classroom': return 'https://classroom.google.com';
    case 'coursera': return 'https://www.coursera.org';
  }
}

function courseIdFor(platform: LmsPlatform, code: string, slug: string, rng: Rng): string {
  switch (platform) {
    case 'canvas': return String(rng.int(1_000, 99_999));
    case 'moodle': return String(rng.int(2, 9_999));
    case 'blackboard': return `_${rng.int(100, 99_999)}_1`;
    case 'd2l': return String(rng.int(6_000, 999_999));
    case 'schoology': return String(rng.int(1_000_000_000, 9_999_999_999));
    case 'sakai': return `${code}${rng.int(100, 499)}-${rng.pick(['F', 'S'])}${rng.int(23, 26)}`;
    case 'open_edx': return `course-v1:${slug.replace(/-/g, '').slice(0, 12) || 'Campus'}X+${code}${rng.int(100, 499)}+${rng.int(2024, 2026)}_T${rng.int(1, 3)}`;
    // Classroom ids are base64 of a decimal number; twelve digits encode to 16 alphanumerics.
    case 'google_classroom': return Buffer.from(String(rng.int(100_000_000_000, 999_999_999_999))).toString('base64');
    case 'coursera': return rng.pick(COURSERA_SLUGS);
  }
}

/** The host part of a course key: what `extractCourse` keeps of the page host. */
function keyHost(platform: LmsPlatform, base: string): string {
  const host = new URL(base).hostname.replace(/^www\./, '');
  return platform === 'open_edx' ? host.replace(/^courses\./, '') : host;
}

function makeCourse(platform: LmsPlatform, base: string, slug: string, rng: Rng): SimCourse {
  const [code, name] = rng.pick(SUBJECTS);
  const courseId = courseIdFor(platform, code, slug, rng);
  const title = platform === 'coursera' ? courseId.replace(/-/g, ' ') : `${code} ${rng.int(100, 499)}: ${name}`;
  return { platform, courseId, title, key: courseKey(platform, keyHost(platform, base), courseId), base };
}

function makeUser(platform: LmsPlatform, base: string, rng: Rng): SimUser {
  const first = rng.pick(FIRST);
  const last = rng.pick(LAST);
  const userName = `${first} ${last}`;
  const username = `${first[0] ?? 'x'}${last}${rng.int(10, 99)}`.toLowerCase();
  const numeric = String(rng.int(10_000, 999_999));
  switch (platform) {
    case 'canvas': return { userId: numeric, userName, userUrl: `${base}/users/${numeric}` };
    case 'moodle': return { userId: numeric, userName, userUrl: `${base}/user/profile.php?id=${numeric}` };
    case 'schoology': return { userId: numeric, userName, userUrl: `${base}/user/${numeric}/info` };
    case 'open_edx': return { userId: username, userName, userUrl: `${base.replace('//courses.', '//profile.')}/u/${username}` };
    case 'd2l': return { userId: numeric, userName };
    default: return { userId: username, userName };
  }
}

export function buildIntegrationProfile(
  integrationId: string,
  index: number,
  rng: Rng,
  options: { users: number; courses: number },
): IntegrationProfile {
  const slug = institutionSlug(integrationId);
  const platform = CAMPUS_PLATFORMS[index % CAMPUS_PLATFORMS.length] ?? 'canvas';
  const base = platformBase(platform, slug, rng);
  // A campus mid-migration runs a second LMS, and some teachers use a hosted one.
  const second = CAMPUS_PLATFORMS[(index + 3) % CAMPUS_PLATFORMS.length] ?? 'moodle';
  const hosted = HOSTED_PLATFORMS[index % HOSTED_PLATFORMS.length] ?? 'google_classroom';
  const secondBase = platformBase(second, slug, rng);
  const courses = Array.from({ length: Math.max(1, options.courses) }, (_, i) => {
    const which = i % 6 === 4 ? second : i % 6 === 5 ? hosted : platform;
    const where = which === platform ? base : which === second ? secondBase : platformBase(which, slug, rng);
    return makeCourse(which, where, slug, rng);
  });
  const users = Array.from({ length: Math.max(1, options.users) }, () => makeUser(platform, base, rng));
  return { integrationId, platform, courses, users };
}

type Template = readonly [path: string, title: string, inCourse: boolean];

/** `{id}` is the course id, `{n}` a fresh item number; entries with inCourse=false carry no course id. */
const TEMPLATES: Readonly<Record<LmsPlatform, readonly Template[]>> = {
  canvas: [['/courses/{id}', 'Home', true], ['/courses/{id}/modules', 'Modules', true], ['/courses/{id}/assignments/{n}', 'Assignment', true],
    ['/courses/{id}/quizzes/{n}/take', 'Quiz', true], ['/courses/{id}/discussion_topics/{n}', 'Discussion', true], ['/', 'Dashboard', false]],
  moodle: [['/course/view.php?id={id}', 'Course', true], ['/course/view.php?id={id}#section-{n}', 'Topic', true],
    ['/grade/report/user/index.php?id={id}', 'Grades', true], ['/mod/forum/index.php?id={id}', 'Forums', true],
    ['/mod/quiz/view.php?id={n}', 'Quiz', false], ['/my/', 'Dashboard', false]],
  blackboard: [['/ultra/courses/{id}/outline', 'Course Content', true], ['/ultra/courses/{id}/grades', 'Gradebook', true],
    ['/webapps/blackboard/execute/launcher?type=Course&id={id}&url=', 'Course Entry', true],
    ['/webapps/blackboard/content/listContent.jsp?course_id={id}&content_id=_{n}_1', 'Content', true], ['/ultra/stream', 'Activity Stream', false]],
  d2l: [['/d2l/home/{id}', 'Course Home', true], ['/d2l/le/content/{id}/Home', 'Content', true],
    ['/d2l/le/content/{id}/viewContent/{n}/View', 'Topic', true], ['/d2l/lms/quizzing/user/quizzes_list.d2l?ou={id}', 'Quizzes', true],
    ['/d2l/home', 'Homepage', false]],
  schoology: [['/course/{id}/materials', 'Materials', true], ['/course/{id}/updates', 'Updates', true], ['/assignment/{n}/info', 'Assignment', false], ['/home', 'Home', false]],
  sakai: [['/portal/site/{id}', 'Overview', true], ['/portal/site/{id}/tool/{n}', 'Tests & Quizzes', true], ['/portal/site/{id}/page/{n}', 'Lessons', true], ['/portal', 'Home', false]],
  google_classroom: [['/c/{id}', 'Stream', true], ['/u/0/c/{id}', 'Stream', true], ['/c/{id}/a/{n}/details', 'Assignment', true],
    ['/w/{id}/t/all', 'Classwork', true], ['/h', 'Classes', false]],
  open_edx: [['/courses/{id}/courseware/week{n}/', 'Courseware', true], ['/courses/{id}/progress', 'Progress', true],
    ['@learning/course/{id}/home', 'Course Home', true], ['/dashboard', 'Dashboard', false]],
  coursera: [['/learn/{id}', 'Course', true], ['/learn/{id}/home/week/{n}', 'Week', true], ['/learn/{id}/lecture/{n}/introduction', 'Lecture', true], ['/', 'Home', false]],
};

/** A page of the course (mostly) or a course-less page of the same LMS. */
export function pageFor(course: SimCourse, rng: Rng, options: { inCourse?: boolean } = {}): SimPage {
  const all = TEMPLATES[course.platform];
  const wanted = options.inCourse ?? rng.chance(0.85);
  const choices = all.filter(([, , inCourse]) => inCourse === wanted);
  const [path, label, inCourse] = rng.pick(choices.length > 0 ? choices : all);
  const filled = path.replaceAll('{id}', course.courseId).replaceAll('{n}', String(rng.int(1, 9_999)));
  // The Open edX learning MFE lives on its own host; its course keys are the same.
  const url = filled.startsWith('@learning') ? `${course.base.replace('//courses.', '//learning.')}${filled.slice('@learning'.length)}` : `${course.base}${filled}`;
  return { url, title: inCourse ? `${label} · ${course.title}` : label, course: inCourse ? course : null };
}
