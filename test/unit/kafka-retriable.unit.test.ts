import kafkajs from 'kafkajs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { askAgainWhileRetriable, isRetriableKafkaError } from '../../services/kafka.js';

const { KafkaJSProtocolError, KafkaJSNonRetriableError } = kafkajs;
/** What a broker whose group coordinator is loading answers (code 14): the error a rebuild's progress poll once died of. */
const coordinatorLoading = () =>
  new KafkaJSProtocolError(Object.assign(new Error("The coordinator is loading and hence can't process requests for this group"), { type: 'GROUP_LOAD_IN_PROGRESS', code: 14, retriable: true }));
const logger = pino({ level: 'silent' });

describe('asking the broker again while it answers with a retriable error', () => {
  it('tells kafkajs errors worth asking again from the rest', () => {
    expect(isRetriableKafkaError(coordinatorLoading())).toBe(true);
    expect(isRetriableKafkaError(new KafkaJSNonRetriableError('topic authorization failed'))).toBe(false);
    expect(isRetriableKafkaError(Object.assign(new Error('not from kafkajs'), { retriable: true }))).toBe(false);
    expect(isRetriableKafkaError('a string')).toBe(false);
  });

  it('returns the first answer once the broker is ready again', async () => {
    let asked = 0;
    const answer = await askAgainWhileRetriable(
      async () => {
        asked += 1;
        if (asked < 3) throw coordinatorLoading();
        return 'offsets';
      },
      { what: 'offsets', logger, pauseMs: 1 },
    );
    expect(answer).toBe('offsets');
    expect(asked).toBe(3);
  });

  it('passes a non-retriable error on at once', async () => {
    let asked = 0;
    const refusal = new KafkaJSNonRetriableError('group authorization failed');
    await expect(
      askAgainWhileRetriable(
        async () => {
          asked += 1;
          throw refusal;
        },
        { what: 'offsets', logger, pauseMs: 1 },
      ),
    ).rejects.toBe(refusal);
    expect(asked).toBe(1);
  });

  it('gives up with the last error once the broker has refused for longer than allowed', async () => {
    let asked = 0;
    const started = Date.now();
    await expect(
      askAgainWhileRetriable(
        async () => {
          asked += 1;
          throw coordinatorLoading();
        },
        { what: 'offsets', logger, forMs: 50, pauseMs: 5 },
      ),
    ).rejects.toMatchObject({ type: 'GROUP_LOAD_IN_PROGRESS', retriable: true });
    expect(asked).toBeGreaterThan(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });
});
