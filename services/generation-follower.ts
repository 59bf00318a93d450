import { sameGenerations, type Generations } from '../projections/store/generations.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { createProjectorWorker, type ProjectorWorker } from './projector-worker.js';
import { readRouting, type Routing } from './read-model.js';

/**
 * Keeps a projector worker writing the serving generations. While a rebuild
 * holds the handoff lease the worker finishes its batch, commits and leaves
 * the group, so the group's offsets stand still for the rebuild to catch up
 * to exactly; when the lease is gone a worker joins again, writing the
 * generations the rebuild left serving (or the old ones, if it gave up).
 */
export function followRouting(
  deps: { readRouting: () => Promise<Routing>; createWorker: (generations: Generations) => ProjectorWorker; logger: Logger },
  options: { pollMs: number },
): ProjectorWorker {
  let worker: ProjectorWorker | null = null;
  let generations: Generations | null = null;
  let standingStill = false;
  let timer: NodeJS.Timeout | null = null;
  let syncing: Promise<void> = Promise.resolve();

  async function sync(): Promise<void> {
    const routing = await deps.readRouting();
    if (routing.handoff !== null) {
      if (!standingStill) deps.logger.info({ rebuild: routing.handoff }, 'a rebuild is taking over projections; standing still');
      standingStill = true;
      await worker?.stop();
      worker = null;
      return;
    }
    if (standingStill) deps.logger.info({ generations: routing.generations }, 'handoff over; resuming');
    standingStill = false;
    if (worker && generations && sameGenerations(generations, routing.generations)) return;
    if (worker) deps.logger.info({ from: generations, to: routing.generations }, 'projector moving to the serving generations');
    await worker?.stop();
    generations = routing.generations;
    worker = deps.createWorker(routing.generations);
    await worker.start();
  }

  const schedule = (): Promise<void> =>
    (syncing = syncing.then(sync).catch((err: unknown) => deps.logger.error({ err }, 'could not follow the serving generations')));

  return {
    name: 'projector',
    // Standing still for a handoff is intended, not a failure.
    ready: () => standingStill || (worker?.ready() ?? false),
    async start() {
      await sync();
      timer = setInterval(() => void schedule(), options.pollMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await syncing;
      await worker?.stop();
      worker = null;
    },
  };
}

/** The live projector of a process: follows the routing in Redis and writes every projection in the live group. */
export function liveProjector(
  config: Config,
  deps: Parameters<typeof createProjectorWorker>[1],
  options: { pollMs: number } = { pollMs: 2_000 },
): ProjectorWorker {
  return followRouting(
    {
      readRouting: () => readRouting(deps.redis, config.redis.keyPrefix),
      createWorker: (generations) => createProjectorWorker(config, deps, { generations }),
      logger: deps.logger,
    },
    options,
  );
}
