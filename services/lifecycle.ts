import type { Logger } from './logger.js';

/** A long-lived resource: started in order, stopped in reverse. */
export interface Component {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts components in order; on SIGTERM/SIGINT (or a start failure) stops
 * the started ones in reverse. A second signal exits at once.
 */
export async function runComponents(components: readonly Component[], logger: Logger, options: { stopTimeoutMs: number } = { stopTimeoutMs: 30_000 }): Promise<{ stop: () => Promise<void> }> {
  const started: Component[] = [];
  let stopping: Promise<void> | null = null;

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const timer = setTimeout(() => {
        logger.error({ timeoutMs: options.stopTimeoutMs }, 'shutdown took too long; exiting');
        process.exit(1);
      }, options.stopTimeoutMs);
      timer.unref();
      for (const component of [...started].reverse()) {
        try {
          await component.stop();
          logger.info({ component: component.name }, 'stopped');
        } catch (err) {
          logger.error({ err, component: component.name }, 'failed to stop cleanly');
        }
      }
      clearTimeout(timer);
    })());

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) process.exit(1);
    logger.info({ signal }, 'shutting down');
    void stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  for (const component of components) {
    try {
      await component.start();
      started.push(component);
      logger.info({ component: component.name }, 'started');
    } catch (err) {
      logger.fatal({ err, component: component.name }, 'failed to start');
      await stop();
      throw err;
    }
  }
  return { stop };
}
