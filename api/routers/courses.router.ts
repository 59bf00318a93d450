import { courseFromRow, listCourses } from '../../projections/courses/courses.queries.js';
import { CourseListQuery, CourseListResponseSchema } from '../../schemas/api/courses.js';
import { canonicalFilters } from '../cursor.js';
import { paginate } from '../pagination.js';
import { documented, integrationOf, routes, type RouterDeps } from '../route.js';

export function courseRoutes(deps: RouterDeps) {
  const list = routes.createRouteSpec({
    name: 'listCourses',
    method: 'get',
    path: '/v1/courses',
    validate: { query: CourseListQuery },
    handler: async (ctx) => {
      const integrationId = integrationOf(ctx.state);
      const { limit, cursor, ...filters } = ctx.request.query;
      const scope = { integrationId, list: 'courses', filters: canonicalFilters(filters) };
      const after = cursor ? deps.cursors.decode(scope, cursor, ['string']) : null;
      const rows = await listCourses(deps.readModel(), integrationId, filters, after ? String(after[0]) : null, limit + 1);
      ctx.body = paginate(rows, limit, courseFromRow, (r) => [r.course_key], deps.cursors, scope);
    },
  });

  return [
    documented(list, CourseListResponseSchema, {
      tag: 'Courses',
      summary: 'List LMS courses extracted from session URLs',
      description:
        'Courses recognised in the page URLs of the common LMSs (Canvas, Moodle, Blackboard, D2L Brightspace, Schoology, Sakai, ' +
        'Google Classroom, Open edX, Coursera), in course id order, cursor-paginated, with session, user and flagged-session counts.',
      authenticated: true,
    }),
  ];
}
