// Randomness comes in from outside like time does, so a test can replay a run.
export interface RandomSource {
  /** Uniform in [0, 1). */
  fraction(): number;
  /** Uniform 32-bit unsigned integer. */
  uint32(): number;
}

/** Deterministic generator for tests and benchmarks (mulberry32). */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return { uint32: next, fraction: () => next() / 4294967296 };
}
