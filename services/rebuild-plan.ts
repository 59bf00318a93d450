import {
  PROJECTIONS,
  assertGeneration,
  newestGeneration,
  withGeneration,
  writesFor,
  type Generations,
  type ProjectionName,
} from '../projections/store/generations.js';
import { projectionKeyPatterns } from '../projections/store/redis-keys.js';
import { TABLE_OWNERS, TABLES, tableNames, type TableKey } from '../projections/store/table-set.js';

/** A rebuild reads in a consumer group of its own, never the live one. */
export const rebuildGroupId = (liveGroupId: string): string => `${liveGroupId}.rebuild`;

/** Some tables of one set of generations: names are always made by tableNames(), never carried as text. */
export interface TableSelection {
  generations: Generations;
  tables: readonly TableKey[];
}

/** What a rebuild of some projections writes, adopts and throws away. Pure, so it is unit-tested on its own. */
export interface RebuildPlan {
  selected: readonly ProjectionName[];
  target: number;
  /** Everything the rebuild writes: the selected projections plus the fold state they are computed from. */
  writes: ReadonlySet<ProjectionName>;
  /** Where the rebuild writes: its projections in the target generation, nothing else touched. */
  building: Generations;
  /** The serving generations once the handoff is done. */
  adopted: Generations;
  /** Tables to drop before starting: whatever an earlier attempt at the target left. */
  startOver: readonly TableSelection[];
  /** Tables the rebuild wrote but did not adopt (fold state it needed only to compute), dropped after the handoff. */
  scratchTables: TableSelection;
  /** Redis key patterns of the same kind. */
  scratchKeys: readonly string[];
  /** Redis key patterns of the target the rebuild writes, cleared before starting. */
  targetKeys: readonly string[];
  /** The view that fed the replaced generations, if one of its ends moved; dropped after the handoff. */
  retiredViews: TableSelection;
}

export function planRebuild(serving: Generations, selected: readonly ProjectionName[], prefix: string, target = newestGeneration(serving) + 1): RebuildPlan {
  assertGeneration(target);
  if (selected.length === 0) throw new Error('nothing selected to rebuild');
  if (target <= newestGeneration(serving)) throw new Error(`generation ${target} is not above every serving generation (newest: ${newestGeneration(serving)})`);
  const writes = writesFor(selected);
  const building = withGeneration(serving, writes, target);
  const adopted = withGeneration(serving, selected, target);
  const servingNames = new Set(Object.values(tableNames(serving)));
  const adoptedNames = tableNames(adopted);
  const adoptedSet = new Set(Object.values(adoptedNames));
  const buildingNames = tableNames(building);
  const written = TABLES.filter((k) => writes.has(TABLE_OWNERS[k]));
  const patterns = projectionKeyPatterns(prefix, target);
  const keyPatternsOf = (projections: Iterable<ProjectionName>): string[] => [...projections].flatMap((p) => patterns[p] ?? []);
  return {
    selected: PROJECTIONS.filter((p) => selected.includes(p)),
    target,
    writes,
    building,
    adopted,
    startOver: [
      { generations: adopted, tables: servingNames.has(adoptedNames.events_hourly_mv) ? [] : ['events_hourly_mv'] },
      { generations: building, tables: written.filter((k) => !servingNames.has(buildingNames[k])) },
    ],
    scratchTables: { generations: building, tables: written.filter((k) => !adoptedSet.has(buildingNames[k])) },
    scratchKeys: keyPatternsOf([...writes].filter((p) => !selected.includes(p))),
    targetKeys: keyPatternsOf(writes),
    retiredViews: { generations: serving, tables: adoptedSet.has(tableNames(serving).events_hourly_mv) ? [] : ['events_hourly_mv'] },
  };
}

/** The names a selection stands for, views first (the order they must be dropped in). */
export function selectedNames(selection: TableSelection): string[] {
  const names = tableNames(selection.generations);
  return [...TABLES].reverse().filter((k) => selection.tables.includes(k)).map((k) => names[k]);
}
