import { join } from 'node:path';
import { tableNames } from '../../projections/store/table-set.js';
import { rebuildGroupId } from '../../services/rebuild-plan.js';
import { REPO_ROOT, spawnChild } from '../children.js';
import { addFigure, type BenchContext } from '../context.js';
import { describeCpu } from '../cpu.js';
import { INGEST_INTEGRATIONS, preloadTraffic, REBUILD_INTEGRATION, type Preloaded } from '../dataset.js';
import { topicTotal } from '../environment.js';
import { log } from '../progress.js';
import { round } from '../results.js';
import { measureConsumption } from './ingest.js';

/**
 * The real rebuild tool, services/rebuild.ts --generation 2 --no-switch, over
 * `rebuildEvents` events: it drops and re-creates generation 2 of every
 * projection (tables and Redis keys) and replays the topics from the earliest
 * offsets, in the rebuild's own group, up to where the live group stands.
 *
 * It runs last because it needs the live projector out of the way: the topic
 * as the earlier phases left it is topped up with a third integration's
 * traffic, and the live group is moved past those events without projecting
 * them (only the replay is measured; carrying them live first would double the
 * run). The rebuilt sessions of that integration are checked against the count
 * the generator produced, those of the ingest integrations against generation 1.
 */
export async function runRebuild(ctx: BenchContext): Promise<void> {
  const { env, options } = ctx;
  const topic = env.config.kafka.topics.sessions;
  if (ctx.projector) {
    await ctx.memory.release('projector');
    await ctx.projector.stop();
  }
  const extra = options.sizes.rebuildEvents - (await topicTotal(env.admin, topic));
  let topUp: Preloaded | null = null;
  if (extra > 0) {
    topUp = await preloadTraffic(env, { seed: options.seed + 1, integrationIds: [REBUILD_INTEGRATION], events: extra, keepSessionIds: 0 });
    // Explicit offsets (resetOffsets would store "latest", which the rebuild cannot read as a ceiling); moving
    // a group's offsets needs it without members: the projector above left it when it stopped.
    const ends = await env.admin.fetchTopicOffsets(topic);
    await env.admin.setOffsets({ groupId: env.config.kafka.groupId, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
  }
  const events = await topicTotal(env.admin, topic);

  // The ceiling over the same events, in the same state of the machine (the ingest run's raw figure was over fewer).
  const rawGroup = `raw-rebuild-${env.run}`;
  const raw = spawnChild(env, 'raw-consumer-rebuild', join(REPO_ROOT, 'bench/raw-consumer.child.ts'), { BENCH_GROUP_ID: rawGroup }, { environmentOf: 'rebuild' });
  const rawResult = await measureConsumption(ctx, raw, rawGroup, 'raw kafkajs consumer (rebuild topic)');
  await raw.stop();

  const groupId = rebuildGroupId(env.config.kafka.groupId);
  const child = spawnChild(env, 'rebuild', join(REPO_ROOT, 'services/rebuild.ts'), {}, { profileDir: ctx.profileDir, service: 'rebuild', args: ['--generation', '2', '--no-switch', '--progress', 'log'] });
  ctx.memory.watch('rebuild-projector', child);
  const result = await measureConsumption(ctx, child, groupId, 'rebuild into generation 2');
  await ctx.memory.release('rebuild-projector');
  await child.stop();

  // A rebuild that is fast but wrong is worthless: the new generation must hold what was projected or produced.
  const count = async (generation: number, ids: readonly string[]): Promise<number> => {
    const [row] = await env.clickhouse.query<{ n: number }>(
      `SELECT toUInt64(count()) AS n FROM ${tableNames(generation).sessions} FINAL WHERE integration_id IN {ids:Array(String)}`,
      { ids: [...ids] },
    );
    return Number(row?.n ?? 0);
  };
  const checks = [{ what: 'ingest integrations', expected: await count(1, INGEST_INTEGRATIONS), rebuilt: await count(2, INGEST_INTEGRATIONS), against: 'generation 1' }];
  if (topUp) checks.push({ what: REBUILD_INTEGRATION, expected: topUp.sessions, rebuilt: await count(2, [REBUILD_INTEGRATION]), against: 'the generator' });
  const wrong = checks.filter((c) => c.rebuilt !== c.expected);
  for (const c of wrong) log(`WARNING: generation 2 holds ${c.rebuilt} sessions of ${c.what}, ${c.against} ${c.expected}`);

  ctx.method.rebuild =
    `services/rebuild.ts --generation 2 --no-switch as a child process (every projection into generation 2, group <group>.rebuild, from the earliest offsets) replays ${events} events: ` +
    `the topic as the earlier phases left it${topUp ? `, topped up with ${topUp.events} events of ${REBUILD_INTEGRATION} that the live group was moved past unprojected` : ''}. ` +
    'Measured by committed offsets like ingest; baseline: a raw consumer over the same topic just before. ' +
    'Rebuilt sessions are counted against generation 1 (ingest integrations) and against the generator (the top-up).';
  ctx.details.rebuild = { events, topUpEvents: topUp?.events ?? 0, raw: rawResult, rebuild: result, checks };
  addFigure(ctx, {
    bench: 'rebuild',
    metric: 'replay throughput',
    unit: 'events/s',
    value: round(result.eventsPerSecond, 0),
    baseline: { label: 'raw kafkajs consumer', value: round(rawResult.eventsPerSecond, 0) },
    note: `${events.toLocaleString('en-US')} events in ${Math.round(result.wallSeconds)} s; ${checks.map((c) => `${c.rebuilt}/${c.expected} sessions of ${c.what}`).join(', ')}; cores busy: ${describeCpu(result.cpu)}`,
  });
  if (wrong.length > 0) throw new Error(`the rebuilt generation is incomplete: ${wrong.map((c) => `${c.what} ${c.rebuilt}/${c.expected}`).join(', ')}`);
}
