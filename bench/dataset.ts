import type { Message } from 'kafkajs';
import { eventKey } from '../schemas/events/decode.js';
import { buildApiKeyIssued, buildIntegrationUpserted, mintApiKey } from '../services/keys/api-keys.js';
import { createTrafficGenerator, MEAN_EVENTS_PER_SESSION, type SimMessage } from '../services/simulator/traffic.js';
import type { BenchEnvironment } from './environment.js';
import { task } from './progress.js';

/** The integrations of a run: preloaded traffic through Kafka, and the big one built directly in ClickHouse (which then gets live traffic). */
export const INGEST_INTEGRATIONS = ['int_bench_a', 'int_bench_b'] as const;
export const BIG_INTEGRATION = 'int_bench_big';
/** Traffic only the rebuild replays: it tops the topic up to the rebuild's size (see phases/rebuild.ts). */
export const REBUILD_INTEGRATION = 'int_bench_rebuild';

/**
 * Publishes each integration (enterprise tier, so the benchmark's rate-limit
 * table applies) and one fresh API key for it, as the dashboard would; the
 * projector turns these into the Redis key index. Returns the raw keys.
 */
export async function provisionIntegrations(env: BenchEnvironment, integrationIds: readonly string[]): Promise<Record<string, string>> {
  const deps = { now: Date.now };
  const keys: Record<string, string> = {};
  const messages: Message[] = [];
  for (const integrationId of integrationIds) {
    const key = mintApiKey();
    keys[integrationId] = key.rawKey;
    for (const event of [
      buildIntegrationUpserted({ integrationId, name: integrationId, tier: 'enterprise', region: env.config.region, status: 'active' }, deps),
      buildApiKeyIssued(integrationId, key, deps),
    ]) {
      messages.push({ key: eventKey(event), value: JSON.stringify(event) });
    }
  }
  await env.producer.send({ topic: env.config.kafka.topics.integrations, acks: -1, messages });
  return keys;
}

export interface Preloaded {
  events: number;
  /** Ids of sessions of the first integration (for point reads with its key), at most `keepSessionIds`. */
  sessionIds: string[];
  /** Distinct sessions among the events: what a projection of them must hold. */
  sessions: number;
  ms: number;
}

const BATCH = 2_000;
const IN_FLIGHT = 4;

/**
 * Loads `events` deterministic simulator events into the sessions topic as fast
 * as the broker takes them (several batches in flight). Same seed, same bytes.
 * Timestamps start six hours back, well inside the decoder's accepted window.
 */
export async function preloadTraffic(
  env: BenchEnvironment,
  options: { seed: number; integrationIds: readonly string[]; events: number; keepSessionIds: number },
): Promise<Preloaded> {
  const generator = createTrafficGenerator({
    seed: options.seed,
    integrationIds: options.integrationIds,
    startAt: new Date(Date.now() - 6 * 3_600_000),
    sessionsPerSecond: 50,
  });
  const source = generator.messages();
  const topic = env.config.kafka.topics.sessions;
  const sessionIds: string[] = [];
  const sessions = new Set<string>();
  const progress = task('load kafka', options.events, 'events');
  const inFlight = new Set<Promise<unknown>>();
  const started = performance.now();
  let sent = 0;
  while (sent < options.events) {
    const size = Math.min(BATCH, options.events - sent);
    const messages: Message[] = [];
    for (let i = 0; i < size; i++) {
      const { event, key, value } = nextMessage(source);
      sessions.add(`${event.integrationId}/${event.sessionId}`);
      if (event.type === 'session.started' && event.integrationId === options.integrationIds[0] && sessionIds.length < options.keepSessionIds) {
        sessionIds.push(event.sessionId);
      }
      messages.push({ key, value });
    }
    const send = env.producer.send({ topic, acks: -1, messages }).finally(() => inFlight.delete(send));
    // Marked handled here; the race/all below still see a failure and stop the load.
    send.catch(() => undefined);
    inFlight.add(send);
    sent += size;
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    progress.update(sent);
  }
  await Promise.all(inFlight);
  const ms = performance.now() - started;
  progress.done(`${Math.round(sent / (ms / 1000)).toLocaleString('en-US')} events/s produced`);
  return { events: sent, sessionIds, sessions: sessions.size, ms };
}

/** The generator is endless; running dry would be a bug in it. */
export function nextMessage(source: Iterator<SimMessage>): SimMessage {
  const next = source.next();
  if (next.done === true) throw new Error('the traffic generator ran dry');
  return next.value;
}

/** Session arrivals per second that make a generator's simulated clock track a publish rate. */
export const sessionsPerSecondFor = (eventsPerSecond: number): number => eventsPerSecond / MEAN_EVENTS_PER_SESSION;
