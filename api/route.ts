import type { ZodTypeAny } from 'zod';
import { routerSpecFactory } from 'koa-zod-router';
import type { ReadModel } from '../projections/sessions/sessions.queries.js';
import type { CursorCodec } from './cursor.js';
import type { ApiState } from './state.js';

/** Route specs carry their ApiState type so handlers read ctx.state.integration typed. */
export const routes = routerSpecFactory<ApiState>();

/** What the OpenAPI document needs beyond the zod schemas a route validates with. */
export interface RouteDoc {
  summary: string;
  description?: string;
  tag: string;
  /** Error statuses the route can answer, besides the ones every /v1 route can (400, 401, 403, 429, 500). */
  errors?: number[];
  authenticated: boolean;
}

/** The parts of a koa-zod-router spec the OpenAPI document reads. */
export interface RouteShape {
  name?: string;
  method?: string | string[];
  path: string | RegExp;
  validate?: { query?: ZodTypeAny; params?: ZodTypeAny };
}

/** A route spec with its response schema and documentation: one object feeds both the router and the OpenAPI document. */
export interface DocumentedRoute<S extends RouteShape = RouteShape> {
  spec: S;
  response: ZodTypeAny;
  doc: RouteDoc;
}

export function documented<S extends RouteShape>(spec: S, response: ZodTypeAny, doc: RouteDoc): DocumentedRoute<S> {
  return { spec, response, doc };
}

export interface RouterDeps {
  /** The read model of the serving generation; resolved per request because a rebuild can switch it. */
  readModel: () => ReadModel;
  cursors: CursorCodec;
  now: () => number;
}

export function integrationOf(state: ApiState): string {
  if (!state.integration) throw new Error('route needs authenticate() before it');
  return state.integration.integrationId;
}
