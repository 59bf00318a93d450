import type { Component } from './lifecycle.js';
import type { Logger } from './logger.js';
import type { ProjectorWorker } from './projector-worker.js';

/**
 * Keeps a projector worker on the serving generation. When a rebuild switches
 * reads to a newer generation, the worker of the old one finishes its batch,
 * commits and leaves its group, and a worker of the new generation joins that
 * generation's group, continuing from the rebuild's committed offsets.
 */
export function followServingGeneration(
  deps: { servingGeneration: () => Promise<number>; createWorker: (generation: number) => ProjectorWorker; logger: Logger },
  options: { pollMs: number },
): ProjectorWorker {
  let worker: ProjectorWorker | null = null;
  let generation = 0;
  let timer: NodeJS.Timeout | null = null;
  let switching: Promise<void> = Promise.resolve();

  async function moveTo(next: number): Promise<void> {
    if (next <= generation) return;
    deps.logger.info({ from: generation, to: next }, 'projector moving to the serving generation');
    await worker?.stop();
    generation = next;
    worker = deps.createWorker(next);
    await worker.start();
  }

  const component: Component & { ready(): boolean } = {
    name: 'projector',
    ready: () => worker?.ready() ?? false,
    async start() {
      await moveTo(await deps.servingGeneration());
      timer = setInterval(() => {
        switching = switching
          .then(async () => moveTo(await deps.servingGeneration()))
          .catch((err: unknown) => deps.logger.error({ err }, 'could not follow the serving generation'));
      }, options.pollMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await switching;
      await worker?.stop();
    },
  };
  return component;
}
