import type { SourceMessage } from './messages.js';

export interface FlushLimits {
  maxRows: number;
  maxBytes: number;
  maxWaitMs: number;
  /**
   * Flush once no messages were added for this long. kafkajs hands every
   * partition of one fetch over within the same moment and fetches again only
   * after all of them returned, so past that moment the group can only wait
   * for nothing: without this, every batch paid the whole maxWaitMs.
   */
  idleMs: number;
}

type Flush = (messages: SourceMessage[]) => Promise<void>;

/**
 * Group commit across partitions: kafkajs hands each partition's fetch to its
 * own eachBatch call; every call adds its messages to the open group and waits
 * for it. The group flushes when it holds maxRows messages or maxBytes, idleMs
 * after the last messages were added, or maxWaitMs after it opened, whichever
 * comes first. One flush settles all the waiting calls, each of which then
 * commits its own partition. Groups may flush concurrently: a partition has one
 * chunk waiting at a time, so two groups never share a partition, nor (keyed by
 * session) a session.
 */
export class FlushGrouper {
  private open: {
    messages: SourceMessage[];
    bytes: number;
    timer: NodeJS.Timeout | null;
    idle: NodeJS.Timeout | null;
    done: Promise<void>;
    settle: (e?: unknown) => void;
  } | null = null;

  constructor(
    private readonly limits: FlushLimits,
    private readonly flush: Flush,
  ) {}

  /** Adds messages to the open group and returns the promise of that group's flush. */
  add(messages: readonly SourceMessage[]): Promise<void> {
    const group = this.open ?? this.openGroup();
    for (const m of messages) {
      group.messages.push(m);
      group.bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
    }
    if (group.messages.length >= this.limits.maxRows || group.bytes >= this.limits.maxBytes) {
      this.close();
    } else {
      if (group.idle) clearTimeout(group.idle);
      group.idle = setTimeout(() => this.closeIfOpen(group), this.limits.idleMs);
    }
    return group.done;
  }

  /** Flushes whatever is open now (used on shutdown and when the last partition has joined). */
  close(): void {
    const group = this.open;
    if (!group) return;
    this.open = null;
    if (group.timer) clearTimeout(group.timer);
    if (group.idle) clearTimeout(group.idle);
    this.flush(group.messages).then(
      () => group.settle(),
      (error: unknown) => group.settle(error ?? new Error('flush failed')),
    );
  }

  /** A timer of a group that was already flushed (full, or by its other timer) finds another group open, or none. */
  private closeIfOpen(group: NonNullable<FlushGrouper['open']>): void {
    if (this.open === group) this.close();
  }

  private openGroup() {
    let settle!: (e?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (e?: unknown) => (e === undefined ? resolve() : reject(e));
    });
    // A rejected group with no waiter left must not crash the process as an unhandled rejection.
    done.catch(() => undefined);
    const group = { messages: [] as SourceMessage[], bytes: 0, timer: null as NodeJS.Timeout | null, idle: null as NodeJS.Timeout | null, done, settle };
    group.timer = setTimeout(() => this.closeIfOpen(group), this.limits.maxWaitMs);
    this.open = group;
    return group;
  }
}
