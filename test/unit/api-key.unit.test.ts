import { describe, expect, it } from 'vitest';
import { decodeEvent, eventKey } from '../../schemas/events/decode.js';
import {
  API_KEY_PATTERN,
  buildApiKeyIssued,
  buildApiKeyRevoked,
  buildIntegrationUpserted,
  hashApiKey,
  isWellFormedApiKey,
  mintApiKey,
  type RandomBytes,
} from '../../services/keys/api-keys.js';

const NOW = Date.parse('2026-10-01T09:00:00.000Z');
const deps = { now: () => NOW };

/** Bytes from a fixed cycle, so a minted key is predictable. */
function cyclingBytes(values: readonly number[]): RandomBytes {
  let i = 0;
  return (size) => Buffer.from(Array.from({ length: size }, () => values[i++ % values.length] ?? 0));
}

describe('mintApiKey', () => {
  it('mints aik_v1_ + 40 base62 characters, with its SHA-256 and a short display prefix', () => {
    const key = mintApiKey();
    expect(key.rawKey).toMatch(/^aik_v1_[A-Za-z0-9]{40}$/);
    expect(key.keyHash).toBe(hashApiKey(key.rawKey));
    expect(key.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(key.displayPrefix).toBe(key.rawKey.slice(0, 'aik_v1_'.length + 4));
    expect(key.keyId).toMatch(/^key_[0-9a-f]{20}$/);
  });

  it('never mints the same key or key id twice', () => {
    const keys = Array.from({ length: 2_000 }, () => mintApiKey());
    expect(new Set(keys.map((k) => k.rawKey)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(keys.length);
  });

  it('maps bytes to base62 without modulo bias: bytes of 248 and above are skipped', () => {
    const key = mintApiKey(cyclingBytes([0, 61, 62, 248, 255, 247]));
    // 0→'0', 61→'z', 62→'0' (62 mod 62), 248 and 255 dropped, 247→'z' (247 mod 62 = 61)
    expect(key.rawKey.slice(7, 15)).toBe('0z0z0z0z');
    expect(key.rawKey.slice(7)).toMatch(/^(0z)+$/);
  });

  it('uses all 62 characters about evenly', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 500; i += 1) for (const c of mintApiKey().rawKey.slice(7)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (500 * 40) / 62;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.35);
  });
});

describe('hashApiKey and isWellFormedApiKey', () => {
  it('is plain SHA-256 in lowercase hex', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it.each([
    ['aik_v1_' + 'a'.repeat(40), true],
    ['aik_v1_' + 'Ab3'.repeat(13) + 'Z', true],
    ['aik_v1_' + 'a'.repeat(39), false],
    ['aik_v1_' + 'a'.repeat(41), false],
    ['aik_v2_' + 'a'.repeat(40), false],
    ['AIK_V1_' + 'a'.repeat(40), false],
    ['aik_v1_' + 'a'.repeat(39) + '-', false],
    [' aik_v1_' + 'a'.repeat(40), false],
    ['aik_v1_' + 'a'.repeat(40) + '\n', false],
    ['', false],
    [null, false],
    [42, false],
  ])('%j → %s', (value, expected) => {
    expect(isWellFormedApiKey(value)).toBe(expected);
  });

  it('accepts every minted key', () => {
    for (let i = 0; i < 100; i += 1) expect(isWellFormedApiKey(mintApiKey().rawKey)).toBe(true);
    expect(API_KEY_PATTERN.test(mintApiKey().displayPrefix)).toBe(false);
  });
});

describe('integration-topic event builders', () => {
  const key = mintApiKey();

  it('builds events that decode, keyed as eventKey says, stamped by the injected clock', () => {
    const events = [
      buildIntegrationUpserted({ integrationId: 'int_acme', name: 'Acme University', tier: 'pro', region: 'us', status: 'active' }, deps),
      buildApiKeyIssued('int_acme', key, deps),
      buildApiKeyRevoked('int_acme', key, deps),
    ];
    for (const event of events) {
      const decoded = decodeEvent(JSON.stringify(event), { now: () => NOW, key: eventKey(event) });
      expect(decoded).toEqual({ ok: true, event });
      expect(event.occurredAt).toBe('2026-10-01T09:00:00.000Z');
    }
    expect(events.map(eventKey)).toEqual(['int_acme', `int_acme/${key.keyId}`, `int_acme/${key.keyId}`]);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(3);
  });

  it('never puts the raw key in an event', () => {
    const issued = JSON.stringify(buildApiKeyIssued('int_acme', key, deps));
    const revoked = JSON.stringify(buildApiKeyRevoked('int_acme', key, deps));
    const body = key.rawKey.slice(7);
    for (const text of [issued, revoked]) expect(text).not.toContain(body);
    expect(issued).toContain(key.keyHash);
    expect(issued).toContain(key.displayPrefix);
  });

  it('ignores fields it does not know instead of publishing them', () => {
    const issued = buildApiKeyIssued('int_acme', { ...key }, deps);
    expect(Object.keys(issued.data).sort()).toEqual(['displayPrefix', 'keyHash', 'keyId']);
  });

  it('refuses input the contract would reject', () => {
    expect(() => buildIntegrationUpserted({ integrationId: 'bad id', name: 'x', tier: 'pro', region: 'us', status: 'active' }, deps)).toThrow();
    expect(() => buildIntegrationUpserted({ integrationId: 'int_x', name: '', tier: 'pro', region: 'us', status: 'active' }, deps)).toThrow();
    expect(() => buildApiKeyRevoked('int_x', { keyId: key.keyId, keyHash: 'NOT-A-HASH' }, deps)).toThrow();
  });

  it('gives every event a fresh id', () => {
    const ids = Array.from({ length: 500 }, () => buildApiKeyRevoked('int_x', key, deps).eventId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
