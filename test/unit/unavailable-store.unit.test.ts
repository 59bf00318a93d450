import { describe, expect, it } from 'vitest';
import { unavailableStore } from '../../api/middleware/error-envelope.js';
import { ClickHouseError } from '../../projections/store/clickhouse-gateway.js';

const named = (name: string, message: string): Error => Object.assign(new Error(message), { name });

describe('unavailableStore: which failures are a store out of reach (503) rather than a bug (500)', () => {
  it('a ClickHouse failure counts only when retrying can succeed', () => {
    expect(unavailableStore(new ClickHouseError('query failed: socket hang up', { retriable: true }))).toBe('clickhouse');
    expect(unavailableStore(new ClickHouseError('Code: 202. TOO_MANY_SIMULTANEOUS_QUERIES', { code: 202 }))).toBe('clickhouse');
    expect(unavailableStore(new ClickHouseError('Code: 62. Syntax error', { code: 62 }))).toBeNull();
  });

  it('Redis answering that it cannot serve yet counts: loading its dump, busy with a script, failing over', () => {
    expect(unavailableStore(named('ReplyError', 'LOADING Redis is loading the dataset in memory'))).toBe('redis');
    expect(unavailableStore(named('ReplyError', 'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.'))).toBe('redis');
    expect(unavailableStore(named('ReplyError', 'CLUSTERDOWN The cluster is down'))).toBe('redis');
    expect(unavailableStore(named('ReplyError', "READONLY You can't write against a read only replica."))).toBe('redis');
    // A word that merely starts like one of them is not one of them.
    expect(unavailableStore(named('ReplyError', 'BUSYKEY Target key name already exists.'))).toBeNull();
  });

  it("ioredis's out-of-reach errors count; Redis answering with an error does not", () => {
    expect(unavailableStore(named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 1).'))).toBe('redis');
    expect(unavailableStore(new Error('Connection is closed.'))).toBe('redis');
    expect(unavailableStore(new Error('connect ECONNREFUSED 127.0.0.1:6379'))).toBe('redis');
    expect(unavailableStore(named('ReplyError', 'ERR unknown command'))).toBeNull();
    expect(unavailableStore(named('ReplyError', 'NOSCRIPT No matching script'))).toBeNull();
  });

  it('our own mistakes stay 500s', () => {
    expect(unavailableStore(new TypeError("Cannot read properties of undefined (reading 'state')"))).toBeNull();
    expect(unavailableStore(new SyntaxError('Unexpected token } in JSON'))).toBeNull();
    expect(unavailableStore('a string')).toBeNull();
  });
});
