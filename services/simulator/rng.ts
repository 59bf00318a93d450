/**
 * A small seeded PRNG (mulberry32) with the helpers the simulator needs.
 * Math.random cannot be seeded, and a replayable stream is the whole point:
 * the same seed must give byte-identical traffic so a test can predict totals.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  float(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks a key with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Partial<Record<K, number>>>): K;
  /** Exponentially distributed, for arrival gaps. */
  exponential(mean: number): number;
  /** `length` characters of Crockford base32, for ULID-looking identifiers. */
  token(length: number): string;
  /** An independent stream, so adding draws in one place does not shift another. */
  fork(label: string): Rng;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** FNV-1a: turns labels (integration ids, stream names) into seeds. */
export function hashSeed(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  const rng: Rng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    float: (min, max) => min + next() * (max - min),
    chance: (probability) => next() < probability,
    pick<T>(items: readonly T[]): T {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new RangeError('pick from an empty list');
      return item;
    },
    weighted<K extends string>(weights: Readonly<Partial<Record<K, number>>>): K {
      const entries = Object.entries(weights) as [K, number | undefined][];
      const total = entries.reduce((sum, [, w]) => sum + Math.max(0, w ?? 0), 0);
      let roll = next() * total;
      for (const [key, weight] of entries) {
        roll -= Math.max(0, weight ?? 0);
        if (roll < 0) return key;
      }
      const last = entries.at(-1);
      if (last === undefined) throw new RangeError('weighted pick from no weights');
      return last[0];
    },
    exponential: (mean) => -Math.log(1 - next()) * mean,
    token: (length) => Array.from({ length }, () => CROCKFORD[Math.floor(next() * 32)]).join(''),
    fork: (label) => createRng(hashSeed(label, Math.floor(next() * 4294967296))),
  };
  return rng;
}
