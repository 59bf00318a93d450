import type { Producer } from 'kafkajs';
import { DeadLetterHeaders } from '../../schemas/events/topics.js';
import type { DeadLetter } from './messages.js';

/**
 * Dead letters keep the original key and bytes; the headers say why and where
 * from, so an operator can fix and re-publish them. acks=-1: a dead letter is
 * the only copy we keep of a bad message once its offset is committed.
 */
export function createDeadLetterPublisher(producer: Producer, topic: string, now: () => number) {
  return async function publishDeadLetters(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const failedAt = new Date(now()).toISOString();
    await producer.send({
      topic,
      acks: -1,
      messages: letters.map(({ message, reason, detail }) => ({
        key: message.key,
        value: message.value,
        headers: {
          [DeadLetterHeaders.reason]: reason,
          [DeadLetterHeaders.detail]: detail.slice(0, 1024),
          [DeadLetterHeaders.sourceTopic]: message.topic,
          [DeadLetterHeaders.sourcePartition]: String(message.partition),
          [DeadLetterHeaders.sourceOffset]: message.offset,
          [DeadLetterHeaders.failedAt]: failedAt,
        },
      })),
    });
  };
}
