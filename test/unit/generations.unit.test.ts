import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PROJECTIONS, parseGenerations, uniformGenerations, withGeneration, writesFor, type Generations } from '../../projections/store/generations.js';
import { projectionKeys } from '../../projections/store/redis-keys.js';
import { TABLES, tableNames } from '../../projections/store/table-set.js';
import { schemaStatements } from '../../services/clickhouse/migrations.js';
import { followRouting } from '../../services/generation-follower.js';
import type { ProjectorWorker } from '../../services/projector-worker.js';
import type { Routing } from '../../services/read-model.js';
import { planRebuild, selectedNames } from '../../services/rebuild-plan.js';

describe('projection generations', () => {
  it('names tables as before when every projection is in one generation', () => {
    expect(tableNames(uniformGenerations(1))).toEqual(tableNames(1));
    expect(tableNames(1).sessions).toBe('sessions');
    expect(Object.values(tableNames(3)).every((n) => n.endsWith('_g3'))).toBe(true);
  });

  it('gives each table the generation of the projection that owns it', () => {
    const names = tableNames(withGeneration(uniformGenerations(1), ['users'], 4));
    expect(names.user_sessions).toBe('user_sessions_g4');
    expect(names.sessions).toBe('sessions');
    expect(names.course_sessions).toBe('course_sessions');
  });

  it('names the view after both generations it joins, so a moved end never reuses an old view', () => {
    const base = uniformGenerations(2);
    expect(tableNames(base).events_hourly_mv).toBe('events_hourly_mv_g2');
    expect(tableNames(withGeneration(base, ['analytics'], 5)).events_hourly_mv).toBe('events_hourly_mv_g5_from_g2');
    expect(tableNames(withGeneration(base, ['session-events'], 5)).events_hourly_mv).toBe('events_hourly_mv_g2_from_g5');
    const view = schemaStatements(tableNames(withGeneration(base, ['analytics'], 5)), { only: new Set(['analytics']) }).find((s) => s.includes('MATERIALIZED VIEW'));
    expect(view).toContain('TO events_hourly_g5');
    expect(view).toContain('FROM session_events_g2');
  });

  it('keys Redis by the owning projection', () => {
    const keys = projectionKeys('p:', withGeneration(uniformGenerations(1), ['stats'], 3));
    expect(keys.stats('i')).toBe('p:g3:{i}:stats');
    expect(keys.watermarks('i')).toBe('p:g3:{i}:wm');
    expect(keys.session('i', 's')).toBe('p:g1:{i}:s:s');
    expect(keys.apiKey('h')).toBe('p:g1:key:h');
  });

  it('creates only the tables of the projections a writer owns', () => {
    const statements = schemaStatements(tableNames(2), { only: writesFor(['users']) });
    expect(statements.map((s) => /IF NOT EXISTS (\w+)/.exec(s)?.[1])).toEqual(['sessions_g2', 'session_events_g2', 'user_sessions_g2']);
    expect(schemaStatements(tableNames(2))).toHaveLength(TABLES.length);
  });

  it('reads stored generations, ignoring what is not a generation', () => {
    expect(parseGenerations({ users: '3', stats: 'x', bogus: '9', courses: '0' }, 2)).toEqual({ ...uniformGenerations(2), users: 3 });
  });
});

describe('rebuild plan', () => {
  const serving: Generations = { ...uniformGenerations(1), analytics: 2 };

  it('rebuilds one projection with scratch fold state, adopts only it, and drops the scratch after', () => {
    const plan = planRebuild(serving, ['users'], 'p:');
    expect(plan.target).toBe(3);
    expect([...plan.writes].sort()).toEqual(['session-events', 'sessions', 'users']);
    expect(plan.building).toEqual({ ...serving, users: 3, sessions: 3, 'session-events': 3 });
    expect(plan.adopted).toEqual({ ...serving, users: 3 });
    expect(selectedNames(plan.scratchTables)).toEqual(['session_events_g3', 'sessions_g3']);
    expect(plan.scratchKeys).toEqual(['p:g3:{*}:s:*']);
    expect(selectedNames(plan.retiredViews)).toEqual([]);
    expect(plan.startOver.flatMap(selectedNames)).toEqual(['user_sessions_g3', 'session_events_g3', 'sessions_g3']);
  });

  it('never plans to drop a serving table', () => {
    for (const p of PROJECTIONS) {
      const plan = planRebuild(serving, [p], 'p:');
      const servingNames = new Set(Object.values(tableNames(serving)));
      for (const name of [...plan.startOver.flatMap(selectedNames), ...selectedNames(plan.scratchTables)]) expect(servingNames.has(name), `${p}: ${name}`).toBe(false);
      // The only serving object ever retired is the view, and only when one of its ends moves.
      for (const name of selectedNames(plan.retiredViews)) expect(name).toBe(tableNames(serving).events_hourly_mv);
      expect(plan.adopted[p]).toBe(3);
      for (const other of PROJECTIONS.filter((o) => o !== p)) expect(plan.adopted[other]).toBe(serving[other]);
    }
  });

  it('moves the view when session events are rebuilt alone, and retires the old one', () => {
    const plan = planRebuild(serving, ['session-events'], 'p:');
    expect(tableNames(plan.adopted).events_hourly_mv).toBe('events_hourly_mv_g2_from_g3');
    expect(selectedNames(plan.retiredViews)).toEqual(['events_hourly_mv_g2_from_g1']);
    expect(plan.startOver.flatMap(selectedNames)).toContain('events_hourly_mv_g2_from_g3');
    expect(selectedNames(plan.scratchTables)).toEqual(['sessions_g3']);
  });

  it('rebuilds everything in one generation, with no scratch', () => {
    const plan = planRebuild(serving, [...PROJECTIONS], 'p:', 7);
    expect(plan.adopted).toEqual(uniformGenerations(7));
    expect(selectedNames(plan.scratchTables)).toEqual([]);
    expect(plan.scratchKeys).toEqual([]);
    expect(selectedNames(plan.retiredViews)).toEqual(['events_hourly_mv_g2_from_g1']);
  });

  it('needs no fold state for the key index, which comes from the integrations topic', () => {
    expect([...planRebuild(serving, ['api-keys'], 'p:').writes]).toEqual(['api-keys']);
  });

  it('refuses a target generation that is not above every serving one', () => {
    expect(() => planRebuild(serving, ['users'], 'p:', 2)).toThrow(/not above/);
    expect(() => planRebuild(serving, [], 'p:')).toThrow(/nothing/);
  });
});

describe('following the routing', () => {
  function harness() {
    let routing: Routing = { generations: uniformGenerations(1), handoff: null };
    const log: string[] = [];
    const follower = followRouting(
      {
        readRouting: async () => routing,
        createWorker: (generations): ProjectorWorker => {
          const name = `w(users=${generations.users})`;
          return { name, ready: () => true, start: async () => void log.push(`start ${name}`), stop: async () => void log.push(`stop ${name}`) };
        },
        logger: pino({ level: 'silent' }),
      },
      { pollMs: 10 },
    );
    return { follower, log, set: (r: Partial<Routing>) => void (routing = { ...routing, ...r }), tick: () => new Promise((r) => setTimeout(r, 40)) };
  }

  it('stands still while a handoff lease is held and resumes on the generations it left', async () => {
    const h = harness();
    await h.follower.start();
    h.set({ handoff: 'rebuild-1' });
    await h.tick();
    expect(h.follower.ready()).toBe(true);
    h.set({ handoff: null, generations: withGeneration(uniformGenerations(1), ['users'], 2) });
    await h.tick();
    await h.follower.stop();
    expect(h.log).toEqual(['start w(users=1)', 'stop w(users=1)', 'start w(users=2)', 'stop w(users=2)']);
  });

  it('does not start a worker while a lease is held at start-up', async () => {
    const h = harness();
    h.set({ handoff: 'rebuild-1' });
    await h.follower.start();
    await h.tick();
    expect(h.log).toEqual([]);
    h.set({ handoff: null });
    await h.tick();
    await h.follower.stop();
    expect(h.log).toEqual(['start w(users=1)', 'stop w(users=1)']);
  });
});
