import { courseSessionsTable } from '../courses/courses.tables.js';
import { eventsHourlyTable, eventsHourlyView, sessionEventsTable } from '../session-events/session-events.tables.js';
import { sessionsTable } from '../sessions/sessions.tables.js';
import { userSessionsTable } from '../users/users.tables.js';
import type { TableDefinition } from './table-set.js';

/** All tables of one generation, in creation order (a view after its source and target). */
export const TABLE_DEFINITIONS: readonly TableDefinition[] = [
  sessionsTable,
  sessionEventsTable,
  eventsHourlyTable,
  eventsHourlyView,
  userSessionsTable,
  courseSessionsTable,
];
