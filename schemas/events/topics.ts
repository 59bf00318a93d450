/**
 * Kafka topics of the event contract, defined once. Session events are keyed by
 * sessionId so one session's events stay ordered on one partition; integration
 * events are keyed by integrationId on a compacted topic.
 */
export const Topics = {
  sessions: 'notai.sessions.v1',
  integrations: 'notai.integrations.v1',
  deadLetters: 'notai.dead-letters.v1',
} as const;

export type TopicName = (typeof Topics)[keyof typeof Topics];
export type TopicSet = { readonly [K in keyof typeof Topics]: string };

/**
 * The contract's topics under an optional namespace (e.g. `staging.`), so
 * several environments or test suites can share one Kafka cluster.
 */
export function topicNames(namespace = ''): TopicSet {
  if (!/^[A-Za-z0-9._-]*$/.test(namespace)) throw new Error(`invalid topic namespace ${namespace}`);
  return { sessions: `${namespace}${Topics.sessions}`, integrations: `${namespace}${Topics.integrations}`, deadLetters: `${namespace}${Topics.deadLetters}` };
}

/** Headers a dead-lettered message carries, so an operator can find its source. */
export const DeadLetterHeaders = {
  reason: 'x-dlq-reason',
  detail: 'x-dlq-detail',
  sourceTopic: 'x-dlq-source-topic',
  sourcePartition: 'x-dlq-source-partition',
  sourceOffset: 'x-dlq-source-offset',
  failedAt: 'x-dlq-failed-at',
} as const;
