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
    for (const chunk of chunksUnder(letters, MAX_REQUEST_BYTES)) await sendChunk(chunk, failedAt);
  };

  async function sendChunk(letters: readonly DeadLetter[], failedAt: string): Promise<void> {
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
  }
}

/**
 * Dead letters are often the largest messages (oversized payloads are one
 * reason to dead-letter), and one produce request becomes one record batch,
 * which the broker caps (max.message.bytes, 1 MiB by default) and which
 * consumers must fetch whole. So they go out in requests of bounded size.
 */
const MAX_REQUEST_BYTES = 512 * 1024;

function chunksUnder(letters: readonly DeadLetter[], maxBytes: number): DeadLetter[][] {
  const chunks: DeadLetter[][] = [];
  let current: DeadLetter[] = [];
  let size = 0;
  for (const letter of letters) {
    const bytes = (letter.message.value?.length ?? 0) + (letter.message.key?.length ?? 0) + letter.detail.length + 256;
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(letter);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
