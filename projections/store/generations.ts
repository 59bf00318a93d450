/**
 * Each projection lives in a generation of its own: its ClickHouse tables and
 * Redis keys carry the generation in their names. A rebuild fills a new
 * generation of one projection (or of all of them) while the serving ones
 * keep answering, then moves that projection's pointer; the others never stop.
 */
export const PROJECTIONS = ['sessions', 'session-events', 'analytics', 'users', 'courses', 'stats', 'api-keys'] as const;
export type ProjectionName = (typeof PROJECTIONS)[number];

/** The generation of every projection. */
export type Generations = Readonly<Record<ProjectionName, number>>;

export function isProjectionName(name: string): name is ProjectionName {
  return (PROJECTIONS as readonly string[]).includes(name);
}

export function uniformGenerations(generation: number): Generations {
  assertGeneration(generation);
  return Object.fromEntries(PROJECTIONS.map((p) => [p, generation])) as Record<ProjectionName, number>;
}

/** One generation for all, or a generation each: callers that predate per-projection generations pass a number. */
export function toGenerations(generations: number | Generations): Generations {
  return typeof generations === 'number' ? uniformGenerations(generations) : generations;
}

export function assertGeneration(generation: number): void {
  if (!Number.isInteger(generation) || generation < 1) throw new Error(`invalid generation ${generation}`);
}

/** The same generations with `projections` moved to `generation`. */
export function withGeneration(generations: Generations, projections: Iterable<ProjectionName>, generation: number): Generations {
  assertGeneration(generation);
  const next: Record<ProjectionName, number> = { ...generations };
  for (const p of projections) next[p] = generation;
  return next;
}

export function newestGeneration(generations: Generations): number {
  return Math.max(...PROJECTIONS.map((p) => generations[p]));
}

export function sameGenerations(a: Generations, b: Generations): boolean {
  return PROJECTIONS.every((p) => a[p] === b[p]);
}

/**
 * Every projection fed by the sessions topic is computed from the session
 * fold, whose own state is the `sessions` documents (prior state) and the
 * `session-events` timeline (which event ids were already projected). A writer
 * of any of them must also write those two, or it could not tell a new event
 * from a replayed one.
 */
export const FOLD_STATE: readonly ProjectionName[] = ['sessions', 'session-events'];

/** Fed by the integrations topic rather than the session fold. */
export const fromIntegrationsTopic = (p: ProjectionName): boolean => p === 'api-keys';

/** Whether any of these projections is computed by the session fold (and so reads the sessions topic). */
export const anyFromSessions = (projections: Iterable<ProjectionName>): boolean => [...projections].some((p) => !fromIntegrationsTopic(p));

/** What a writer that must produce `wanted` has to write: the wanted projections plus the fold state they depend on. */
export function writesFor(wanted: Iterable<ProjectionName>): ReadonlySet<ProjectionName> {
  const out = new Set<ProjectionName>(wanted);
  if (anyFromSessions(out)) for (const p of FOLD_STATE) out.add(p);
  return out;
}

/** Reads `{sessions: "2", ...}` as stored in Redis; absent or invalid fields fall back. */
export function parseGenerations(fields: Readonly<Record<string, string>>, fallback: number): Generations {
  const out: Record<ProjectionName, number> = { ...uniformGenerations(fallback) };
  for (const p of PROJECTIONS) {
    const value = Number(fields[p]);
    if (fields[p] !== undefined && Number.isInteger(value) && value >= 1) out[p] = value;
  }
  return out;
}

export const generationSuffix = (generation: number): string => (generation === 1 ? '' : `_g${generation}`);
