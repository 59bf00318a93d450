/** Shapes shared by the native and the container broker launchers. */

export interface KafkaBroker {
  brokers: string[];
  /** Current broker process (changes on restart); undefined when not native or not running. */
  readonly pid: number | undefined;
  /** Graceful stop (SIGTERM, then SIGKILL after a deadline); removes temp dirs. */
  stop(): Promise<void>;
  /** Signals the broker without waiting (default SIGKILL), for fault tests. */
  kill(signal?: NodeJS.Signals): void;
  /** Starts again on the same ports with the same data, and waits until ready. */
  restart(): Promise<void>;
}

export interface StartKafkaOptions {
  log?: (msg: string) => void;
  /**
   * Kafka data directory (log.dirs) to use instead of a fresh temp dir; it is
   * formatted on first use, reused afterwards and never deleted (dev data survives).
   */
  logDir?: string;
  /** JVM heap flags; default '-Xms256m -Xmx512m'. */
  heap?: string;
  /** Readiness deadline per start; default 60 s. */
  readyTimeoutMs?: number;
}
