import { describe, expect, it } from 'vitest';
import { COURSE_KEY_PATTERN, courseKey, extractCourse, LMS_PLATFORMS, parseCourseKey, type LmsPlatform } from '../../projections/courses/course-url.js';

type Row = [url: string, platform: LmsPlatform, courseId: string, host: string];

const recognised: Row[] = [
  // Canvas: vendor and institutional domains, course pages and sub-pages
  ['https://acme.instructure.com/courses/48213', 'canvas', '48213', 'acme.instructure.com'],
  ['https://acme.instructure.com/courses/48213/quizzes/991/take', 'canvas', '48213', 'acme.instructure.com'],
  ['https://canvas.university.edu/courses/1234/assignments/5678?module_item_id=42', 'canvas', '1234', 'canvas.university.edu'],
  ['https://canvas.university.edu/courses/1234/pages/week-1-overview#section', 'canvas', '1234', 'canvas.university.edu'],
  ['https://learn.colorado.edu/courses/77/discussion_topics/9/entries', 'canvas', '77', 'learn.colorado.edu'],
  ['https://CANVAS.University.EDU/courses/1234/grades', 'canvas', '1234', 'canvas.university.edu'],
  ['https://acme.instructure.com/courses/10~2345/files', 'canvas', '10~2345', 'acme.instructure.com'],
  ['https://acme.instructure.com/api/v1/courses/48213/modules', 'canvas', '48213', 'acme.instructure.com'],
  ['http://localhost:3000/courses/1/modules', 'canvas', '1', 'localhost'],
  // Moodle: course pages, installs under a sub-directory, course-scoped parameters
  ['https://moodle.school.org/course/view.php?id=42', 'moodle', '42', 'moodle.school.org'],
  ['https://moodle.school.org/course/view.php?id=42#section-3', 'moodle', '42', 'moodle.school.org'],
  ['https://www.school.org/moodle/course/view.php?id=7&section=2', 'moodle', '7', 'school.org'],
  ['https://elearning.uni.de/course/resources.php?id=310', 'moodle', '310', 'elearning.uni.de'],
  ['https://elearning.uni.de/user/index.php?id=310', 'moodle', '310', 'elearning.uni.de'],
  ['https://elearning.uni.de/grade/report/user/index.php?id=310', 'moodle', '310', 'elearning.uni.de'],
  ['https://elearning.uni.de/mod/forum/index.php?id=310', 'moodle', '310', 'elearning.uni.de'],
  ['https://elearning.uni.de/calendar/view.php?view=month&course=310', 'moodle', '310', 'elearning.uni.de'],
  ['https://elearning.uni.de/course/modedit.php?add=quiz&type=&course=310&section=0', 'moodle', '310', 'elearning.uni.de'],
  ['https://elearning.uni.de/question/edit.php?courseid=310', 'moodle', '310', 'elearning.uni.de'],
  ['https://elearning.uni.de/mod/quiz/view.php?id=88&course=310', 'moodle', '310', 'elearning.uni.de'],
  // Blackboard Learn: Original launcher and course_id pages, Ultra, public API
  ['https://learn.uni.ac.uk/webapps/blackboard/execute/launcher?type=Course&id=_123_1&url=', 'blackboard', '_123_1', 'learn.uni.ac.uk'],
  ['https://learn.uni.ac.uk/webapps/blackboard/content/listContent.jsp?course_id=_123_1&content_id=_456_1', 'blackboard', '_123_1', 'learn.uni.ac.uk'],
  ['https://learn.uni.ac.uk/webapps/blackboard/execute/courseMain?course_id=_9876_1', 'blackboard', '_9876_1', 'learn.uni.ac.uk'],
  ['https://learn.uni.ac.uk/webapps/assignment/uploadAssignment?content_id=_5_1&course_id=_123_1', 'blackboard', '_123_1', 'learn.uni.ac.uk'],
  ['https://learn.uni.ac.uk/ultra/courses/_123_1/outline', 'blackboard', '_123_1', 'learn.uni.ac.uk'],
  ['https://uni.blackboard.com/ultra/courses/_55012_1/cl/outline', 'blackboard', '_55012_1', 'uni.blackboard.com'],
  ['https://uni.blackboard.com/learn/api/public/v1/courses/_55012_1/contents', 'blackboard', '_55012_1', 'uni.blackboard.com'],
  // D2L Brightspace: vendor and custom domains, path and ?ou= forms
  ['https://uni.brightspace.com/d2l/home/6606', 'd2l', '6606', 'uni.brightspace.com'],
  ['https://uni.brightspace.com/d2l/le/content/6606/Home', 'd2l', '6606', 'uni.brightspace.com'],
  ['https://uni.brightspace.com/d2l/le/content/6606/viewContent/98765/View', 'd2l', '6606', 'uni.brightspace.com'],
  ['https://learn.college.ca/d2l/le/6606/discussions/List', 'd2l', '6606', 'learn.college.ca'],
  ['https://learn.college.ca/d2l/le/calendar/6606', 'd2l', '6606', 'learn.college.ca'],
  ['https://learn.college.ca/d2l/lms/dropbox/user/folders_list.d2l?ou=6606&isprv=0', 'd2l', '6606', 'learn.college.ca'],
  ['https://learn.college.ca/d2l/lms/quizzing/user/quizzes_list.d2l?ou=7001', 'd2l', '7001', 'learn.college.ca'],
  // Schoology
  ['https://app.schoology.com/course/2345678901/materials', 'schoology', '2345678901', 'app.schoology.com'],
  ['https://district.schoology.com/course/2345678901', 'schoology', '2345678901', 'district.schoology.com'],
  ['https://lms.k12.example.org/course/555/updates', 'schoology', '555', 'lms.k12.example.org'],
  // Sakai
  ['https://sakai.uni.edu/portal/site/BIO101-F24', 'sakai', 'BIO101-F24', 'sakai.uni.edu'],
  ['https://sakai.uni.edu/portal/site/8a7c1f2e-53b1-4c1b-9a7e-0c6f2d1e9b11/tool/abc-123', 'sakai', '8a7c1f2e-53b1-4c1b-9a7e-0c6f2d1e9b11', 'sakai.uni.edu'],
  ['https://learn.college.edu/portal/site/ENG_200/page/xyz', 'sakai', 'ENG_200', 'learn.college.edu'],
  ['https://learn.college.edu/access/content/group/ENG_200/syllabus.pdf', 'sakai', 'ENG_200', 'learn.college.edu'],
  // Google Classroom
  ['https://classroom.google.com/c/NTQ3MjY4NTc0NjE2', 'google_classroom', 'NTQ3MjY4NTc0NjE2', 'classroom.google.com'],
  ['https://classroom.google.com/u/0/c/NTQ3MjY4NTc0NjE2', 'google_classroom', 'NTQ3MjY4NTc0NjE2', 'classroom.google.com'],
  ['https://classroom.google.com/u/1/c/NTQ3MjY4NTc0NjE2/a/NjU0MzIxMDk4NzY1/details', 'google_classroom', 'NTQ3MjY4NTc0NjE2', 'classroom.google.com'],
  ['https://classroom.google.com/w/NTQ3MjY4NTc0NjE2/t/all', 'google_classroom', 'NTQ3MjY4NTc0NjE2', 'classroom.google.com'],
  ['https://classroom.google.com/u/0/r/NTQ3MjY4NTc0NjE2/sort-last-name', 'google_classroom', 'NTQ3MjY4NTc0NjE2', 'classroom.google.com'],
  ['https://classroom.google.com/g/tg/NTQ3MjY4NTc0NjE2/NjU0MzIxMDk4NzY1', 'google_classroom', 'NTQ3MjY4NTc0NjE2', 'classroom.google.com'],
  // Open edX: legacy LMS, learning MFE, encoded '+', CCX, pre-2015 keys
  ['https://courses.edx.org/courses/course-v1:MITx+6.00.1x+2T2024/courseware/week1/', 'open_edx', 'course-v1:MITx+6.00.1x+2T2024', 'edx.org'],
  ['https://learning.edx.org/course/course-v1:MITx+6.00.1x+2T2024/home', 'open_edx', 'course-v1:MITx+6.00.1x+2T2024', 'edx.org'],
  ['https://courses.edx.org/courses/course-v1:MITx%2B6.00.1x%2B2T2024/about', 'open_edx', 'course-v1:MITx+6.00.1x+2T2024', 'edx.org'],
  ['https://lms.academy.org/courses/course-v1:Acme+CS50+2025_Q1/progress', 'open_edx', 'course-v1:Acme+CS50+2025_Q1', 'lms.academy.org'],
  ['https://apps.academy.org/learning/course/course-v1:Acme+CS50+2025_Q1/block-v1:x', 'open_edx', 'course-v1:Acme+CS50+2025_Q1', 'academy.org'],
  ['https://lms.academy.org/courses/ccx-v1:Acme+CS50+2025_Q1+ccx@3/courseware', 'open_edx', 'ccx-v1:Acme+CS50+2025_Q1+ccx@3', 'lms.academy.org'],
  ['https://lms.academy.org/courses/MITx/6.002x/2012_Fall/courseware', 'open_edx', 'MITx/6.002x/2012_Fall', 'lms.academy.org'],
  ['https://courses.edx.org/courses/HarvardX/CS50/2014/', 'open_edx', 'HarvardX/CS50/2014', 'edx.org'],
  // Coursera
  ['https://www.coursera.org/learn/machine-learning', 'coursera', 'machine-learning', 'coursera.org'],
  ['https://www.coursera.org/learn/machine-learning/home/week/1', 'coursera', 'machine-learning', 'coursera.org'],
  ['https://coursera.org/learn/python/lecture/abc12/introduction', 'coursera', 'python', 'coursera.org'],
  ['https://www.coursera.org/lecture/machine-learning/welcome-RKFpn', 'coursera', 'machine-learning', 'coursera.org'],
];

const unrecognised: [url: string, why: string][] = [
  ['https://acme.instructure.com/courses', 'Canvas course index'],
  ['https://acme.instructure.com/courses/', 'Canvas course index, trailing slash'],
  ['https://acme.instructure.com/', 'Canvas dashboard'],
  ['https://acme.instructure.com/courses/abc', 'Canvas ids are numeric'],
  ['https://acme.instructure.com/users/88123', 'a user page'],
  ['https://moodle.school.org/my/', 'Moodle dashboard'],
  ['https://moodle.school.org/course/index.php?categoryid=4', 'Moodle category index'],
  ['https://moodle.school.org/course/view.php?id=1', 'Moodle site front page'],
  ['https://moodle.school.org/course/view.php?id=abc', 'non-numeric Moodle id'],
  ['https://moodle.school.org/mod/quiz/view.php?id=88', 'a Moodle activity id is not a course id'],
  ['https://moodle.school.org/mod/assign/view.php?id=88&action=grading', 'a Moodle activity id is not a course id'],
  ['https://www.example.com/search.php?id=42', 'a PHP page outside the Moodle layout'],
  ['https://learn.uni.ac.uk/ultra/stream', 'Blackboard activity stream'],
  ['https://learn.uni.ac.uk/ultra/course', 'Blackboard course list'],
  ['https://learn.uni.ac.uk/webapps/blackboard/execute/launcher?type=Organization&id=_9_1', 'a Blackboard organisation'],
  ['https://learn.uni.ac.uk/webapps/portal/execute/tabs/tabAction?tab_tab_group_id=_1_1', 'Blackboard portal tab'],
  ['https://uni.brightspace.com/d2l/home', 'Brightspace org home'],
  ['https://uni.brightspace.com/d2l/le/manageCourses/search', 'Brightspace course admin'],
  ['https://app.schoology.com/home', 'Schoology home'],
  ['https://sakai.uni.edu/portal/site/~jdoe', 'Sakai personal workspace'],
  ['https://sakai.uni.edu/portal/site/!gateway', 'Sakai system site'],
  ['https://sakai.uni.edu/portal', 'Sakai portal'],
  ['https://classroom.google.com/h', 'Classroom home'],
  ['https://classroom.google.com/u/0/a/not-turned-in/all', 'Classroom to-do list'],
  ['https://classroom.google.com/courses/123', 'a Canvas shape on the Classroom host'],
  ['https://www.coursera.org/specializations/deep-learning', 'a specialization is not a course'],
  ['https://www.coursera.org/', 'Coursera home'],
  ['https://docs.mongodb.com/learn/aggregation', '/learn/ off Coursera'],
  ['https://www.thinkific-school.com/courses/intro-to-python', 'a slug under /courses/ without an edX shape'],
  ['https://shop.example.com/courses/MITx/6.002x/2012_Fall', 'three segments without edX evidence'],
  ['https://www.wikipedia.org/wiki/Learning_management_system', 'not an LMS'],
  ['https://google.com/c/NTQ3MjY4NTc0NjE2', 'a Classroom shape off Classroom'],
  ['ftp://acme.instructure.com/courses/1', 'not http'],
  ['javascript:alert(1)', 'not http'],
  ['/courses/123', 'relative URL'],
  ['not a url at all', 'garbage'],
  ['', 'empty'],
  ['https://', 'no host'],
  ['https://[::1]/courses/1', 'IPv6 literal'],
  ['https://acme.instructure.com/courses/%E0%A4%A', 'broken percent-escape'],
  [`https://acme.instructure.com/courses/${'9'.repeat(200)}`, 'absurdly long id'],
  [`https://acme.instructure.com/courses/1?q=${'x'.repeat(5000)}`, 'absurdly long URL'],
];

describe('extractCourse', () => {
  it.each(recognised)('%s → %s %s', (url, platform, courseId, host) => {
    const ref = extractCourse(url);
    expect(ref).toEqual({ platform, courseId, host, key: courseKey(platform, host, courseId) });
  });

  it.each(unrecognised)('%s → null (%s)', (url) => {
    expect(extractCourse(url)).toBeNull();
  });

  it('covers every platform it exports', () => {
    const seen = new Set(recognised.map(([, platform]) => platform));
    expect([...seen].sort()).toEqual([...LMS_PLATFORMS].sort());
  });

  it('answers a URL seen before as it did the first time, also after more pages than it remembers', () => {
    const [url, platform, courseId, host] = recognised[0]!;
    const expected = { platform, courseId, host, key: courseKey(platform, host, courseId) };
    expect(extractCourse(url)).toEqual(expected);
    expect(extractCourse(url)).toEqual(expected);
    for (let i = 0; i < 5_000; i++) extractCourse(`https://lms.example.edu/courses/${i}`);
    expect(extractCourse(url)).toEqual(expected);
    expect(extractCourse(`https://lms.example.edu/courses/17`)).toEqual(extractCourse(`https://lms.example.edu/courses/17`));
  });

  it('never throws, whatever it is given', () => {
    const junk: unknown[] = [null, undefined, 42, {}, [], 'https://%', 'http://a b.com/courses/1', '\u0000\uD800', 'https://x.com/\uD800'];
    for (const value of junk) expect(() => extractCourse(value as string)).not.toThrow();
    for (const value of junk) expect(extractCourse(value as string)).toBeNull();
  });
});

describe('course key', () => {
  it('has the documented shape and a URL-safe alphabet for every recognised URL', () => {
    for (const [url] of recognised) {
      const key = extractCourse(url)?.key ?? '';
      expect(key).toMatch(COURSE_KEY_PATTERN);
      expect(encodeURIComponent(key).replaceAll('%3A', ':')).toBe(key);
    }
  });

  it('is the same for every page of one course', () => {
    const pages = [
      'https://acme.instructure.com/courses/48213',
      'https://acme.instructure.com/courses/48213/quizzes/991/take?user_id=5',
      'https://ACME.instructure.com/courses/48213/modules#module_3',
      'http://acme.instructure.com/courses/48213/grades',
    ];
    const keys = new Set(pages.map((url) => extractCourse(url)?.key));
    expect([...keys]).toEqual(['canvas:acme.instructure.com:48213']);
  });

  it('is the same for the legacy LMS and the learning MFE of one Open edX site', () => {
    const legacy = extractCourse('https://courses.edx.org/courses/course-v1:MITx+6.00.1x+2T2024/courseware');
    const mfe = extractCourse('https://learning.edx.org/course/course-v1:MITx%2B6.00.1x%2B2T2024/home');
    expect(legacy?.key).toBe('open_edx:edx.org:course-v1:MITx~2B6.00.1x~2B2T2024');
    expect(mfe?.key).toBe(legacy?.key);
  });

  it('keeps the same course on two institutions apart', () => {
    const a = extractCourse('https://a.instructure.com/courses/1');
    const b = extractCourse('https://b.instructure.com/courses/1');
    expect(a?.key).not.toBe(b?.key);
  });

  it('never maps two different ids to one key', () => {
    const ids = ['a+b', 'a~2Bb', 'a b', 'a_b', 'a/b', 'a~b', 'é', '~C3~A9'];
    const keys = new Set(ids.map((id) => courseKey('open_edx', 'x.org', id)));
    expect(keys.size).toBe(ids.length);
  });
});

describe('parseCourseKey', () => {
  it('gives back exactly what extractCourse found, for every recognised URL', () => {
    for (const [url] of recognised) {
      const ref = extractCourse(url);
      expect(ref && parseCourseKey(ref.key)).toEqual(ref);
    }
  });

  it.each([
    ['', 'empty'],
    ['canvas:acme.instructure.com', 'no course id'],
    ['blackbored:learn.uni.ac.uk:_1_1', 'unknown platform'],
    ['canvas:ACME.instructure.com:1', 'uppercase host'],
    ['open_edx:edx.org:course-v1:MITx+6.00.1x+2T2024', 'unescaped +'],
    ['open_edx:edx.org:course-v1:MITx~2b6.00.1x', 'lowercase escape is not canonical'],
    ['open_edx:edx.org:a~41b', 'escaped character that needs no escaping'],
    ['sakai:x.edu:a~E2~82', 'escape of a truncated UTF-8 sequence'],
    ['canvas:acme.instructure.com:1 ', 'trailing space'],
  ])('%j → null (%s)', (key) => {
    expect(parseCourseKey(key)).toBeNull();
  });
});
