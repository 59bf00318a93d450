import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventKey } from '../../schemas/events/decode.js';
import { DeadLetterHeaders } from '../../schemas/events/topics.js';
import { liveProjector } from '../../services/generation-follower.js';
import type { ProjectorWorker } from '../../services/projector-worker.js';
import { MALFORMED_KINDS, malformedMessage, type MalformedKind } from '../../services/simulator/malformed.js';
import { createRng } from '../../services/simulator/rng.js';
import { startStack, type TestStack } from '../support/stack.js';
import {
  discrepancies,
  expectedView,
  faultTraffic,
  observedView,
  printScenarioTable,
  readTopic,
  waitDrained,
  type ScenarioRow,
  type TopicMessage,
} from './fault-support.js';

/**
 * Poison messages by the thousand, of every kind a producer gets wrong,
 * interleaved with good traffic on every partition: each bad one reaches the
 * dead-letter topic exactly once with its reason and the topic, partition and
 * offset of the original; each good one is projected exactly; no partition
 * stalls (the group's lag reaches 0).
 */

const GOOD_EVENTS = 3_000;
const BAD_MESSAGES = 3_000;
/** Each oversized message is ~260 KiB: a few dozen prove the case without shipping hundreds of megabytes. */
const OVERSIZED = 24;
const IDS = ['int_poison_a', 'int_poison_b'];
/** The integration the bad messages claim: nothing of it may be projected. */
const BAD_INTEGRATION = 'int_poison_bad';
/** A produce request stays well under the broker's 1 MiB per partition batch. */
const CHUNK_BYTES = 600 * 1024;
const CHUNK_MESSAGES = 200;
let stack: TestStack;
let worker: ProjectorWorker;
const rows: ScenarioRow[] = [];

interface Outgoing {
  key: string;
  value: string;
  /** The decode reason for a bad message; undefined for a good one. */
  reason?: string;
}

/** Every kind, seeded: OVERSIZED oversized ones, the rest round-robin over the other kinds. */
function badMessages(seed: number): Outgoing[] {
  const rng = createRng(seed);
  const others = MALFORMED_KINDS.filter((k) => k !== 'oversized');
  const kinds: MalformedKind[] = Array.from({ length: BAD_MESSAGES }, (_, i) => (i < OVERSIZED ? 'oversized' : others[i % others.length]!));
  const ctx = { integrationId: BAD_INTEGRATION, now: Date.now() };
  return kinds.map((kind) => {
    const m = malformedMessage(kind, rng, ctx);
    return { key: m.key, value: m.value, reason: m.reason };
  });
}

/** Seeded interleaving that keeps each list's own order (a session's events stay in order). */
function interleave(a: readonly Outgoing[], b: readonly Outgoing[], seed: number): Outgoing[] {
  const rng = createRng(seed);
  const out: Outgoing[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const fromA = j >= b.length || (i < a.length && rng.next() < (a.length - i) / (a.length - i + b.length - j));
    out.push(fromA ? a[i++]! : b[j++]!);
  }
  return out;
}

function byteChunks(messages: readonly Outgoing[]): Outgoing[][] {
  const chunks: Outgoing[][] = [[]];
  let bytes = 0;
  for (const m of messages) {
    const size = Buffer.byteLength(m.value) + m.key.length;
    if (chunks.at(-1)!.length >= CHUNK_MESSAGES || (bytes + size > CHUNK_BYTES && chunks.at(-1)!.length > 0)) {
      chunks.push([]);
      bytes = 0;
    }
    chunks.at(-1)!.push(m);
    bytes += size;
  }
  return chunks;
}

const countBy = <T>(items: readonly T[], key: (item: T) => string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
};
/** The identity of a message as the broker stores it: reason (if any), key and bytes. */
const fingerprint = (reason: string, key: Buffer | string | null, value: Buffer | string | null) => `${reason}\u0001${key?.toString() ?? ''}\u0001${value?.toString() ?? ''}`;

describe('poison messages interleaved with good traffic (in-process projector)', () => {
  beforeAll(async () => {
    stack = await startStack({ name: 'poison', env: { BATCH_MAX_ROWS: '300' } });
    worker = liveProjector(stack.config, { ...stack, now: Date.now }, { pollMs: 500 });
    await worker.start();
  });
  afterAll(async () => {
    printScenarioTable('poison messages', rows);
    await worker?.stop();
    await stack?.stop();
  });

  it(`${BAD_MESSAGES} malformed messages of every kind: each dead-lettered once with its reason and source; good traffic exact; no stall`, async () => {
    const topic = stack.config.kafka.topics.sessions;
    const traffic = faultTraffic(8101, IDS, GOOD_EVENTS);
    const good: Outgoing[] = traffic.published.map((e) => ({ key: eventKey(e), value: JSON.stringify(e) }));
    const bad = badMessages(8102);
    const started = performance.now();
    for (const chunk of byteChunks(interleave(good, bad, 8103))) await stack.publishRaw(topic, chunk);

    // No stall: the group commits every partition to its end, and the good traffic is exact.
    const view = await waitDrained(stack, stack.config.kafka.groupId, IDS);
    const recoverMs = performance.now() - started;
    const expected = expectedView(traffic.events);
    const { lost, doubleCounted } = discrepancies(expected, view);
    // Nothing of the bad messages was projected (key_mismatch and timestamp cases are otherwise valid events).
    const leaked = discrepancies({}, await observedView(stack, [BAD_INTEGRATION])).doubleCounted;

    const originals = await readTopic(stack.kafka, stack.admin, topic);
    const letters = await readTopic(stack.kafka, stack.admin, stack.config.kafka.topics.deadLetters);
    const header = (m: TopicMessage, name: string) => m.headers[name] ?? '';
    rows.push({
      scenario: 'poison interleaved',
      produced: good.length + bad.length,
      faults: `${bad.length} malformed (${MALFORMED_KINDS.length} kinds), ${letters.length} dead-lettered`,
      lost,
      doubleCounted: doubleCounted + leaked,
      recoverMs,
    });
    expect(view).toEqual(expected);
    expect(lost).toBe(0);
    expect(doubleCounted).toBe(0);
    expect(leaked).toBe(0);

    // Every bad message exactly once, with its reason: the multisets of (reason, key, bytes) are equal.
    expect(letters).toHaveLength(bad.length);
    expect(countBy(letters, (l) => header(l, DeadLetterHeaders.reason))).toEqual(countBy(bad, (b) => b.reason!));
    const sent = bad.map((b) => fingerprint(b.reason!, b.key, b.value)).sort();
    expect(letters.map((l) => fingerprint(header(l, DeadLetterHeaders.reason), l.key, l.value)).sort()).toEqual(sent);

    // The source headers point at the very original: same key and bytes at that topic, partition and offset.
    const at = new Map(originals.map((m) => [`${m.partition}/${m.offset}`, m]));
    const ends = new Map((await stack.admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p]));
    const pointed = new Set<string>();
    const problems: string[] = [];
    for (const letter of letters) {
      const where = `${header(letter, DeadLetterHeaders.sourcePartition)}/${header(letter, DeadLetterHeaders.sourceOffset)}`;
      const original = at.get(where);
      const end = ends.get(Number(header(letter, DeadLetterHeaders.sourcePartition)));
      const offset = Number(header(letter, DeadLetterHeaders.sourceOffset));
      if (header(letter, DeadLetterHeaders.sourceTopic) !== topic) problems.push(`${where}: source topic ${header(letter, DeadLetterHeaders.sourceTopic)}`);
      if (!end || offset < Number(end.low) || offset >= Number(end.high)) problems.push(`${where}: offset out of range`);
      if (pointed.has(where)) problems.push(`${where}: two dead letters point here`);
      pointed.add(where);
      if (!original || !Buffer.from(original.value ?? '').equals(Buffer.from(letter.value ?? '')) || original.key?.toString() !== letter.key?.toString()) {
        problems.push(`${where}: not the original message`);
      }
      if (header(letter, DeadLetterHeaders.detail).length === 0 || Number.isNaN(Date.parse(header(letter, DeadLetterHeaders.failedAt)))) problems.push(`${where}: no detail or failedAt`);
    }
    expect(problems.slice(0, 20)).toEqual([]);

    // Everything else in the topic is good traffic, and every partition carried both kinds.
    const goodIds = new Set(traffic.events.map((e) => e.eventId));
    const rest = originals.filter((m) => !pointed.has(`${m.partition}/${m.offset}`));
    expect(rest).toHaveLength(good.length);
    expect(rest.every((m) => goodIds.has((JSON.parse(m.value!.toString()) as { eventId: string }).eventId))).toBe(true);
    const partitions = [...ends.keys()].sort();
    expect(partitions).toHaveLength(stack.config.kafka.topicPartitions);
    expect(Object.keys(countBy(letters, (l) => header(l, DeadLetterHeaders.sourcePartition))).map(Number).sort()).toEqual(partitions);
    expect(Object.keys(countBy(rest, (m) => String(m.partition))).map(Number).sort()).toEqual(partitions);
  });
});
