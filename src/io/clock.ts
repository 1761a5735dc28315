// The real clock and randomness: the only place (with src/app) that reads time.
// The engine takes monotonic milliseconds as `now`; identifications need the
// wall clock, passed to it as an offset (wall - monotonic).
import { getRandomValues } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { RandomSource } from "../core/random.ts";

export interface Clock {
  /** Monotonic milliseconds (never jumps; origin is arbitrary). */
  monotonicMs(): number;
  /** Milliseconds since 1970 (may jump when NTP corrects it). */
  wallMs(): number;
}

export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
};

/** Cryptographic randomness for the engine (identification low bits, jitter). */
export function systemRandom(): RandomSource {
  const pool = new Uint32Array(256);
  let next = pool.length;
  const uint32 = (): number => {
    if (next >= pool.length) {
      getRandomValues(pool);
      next = 0;
    }
    return pool[next++]!;
  };
  return { uint32, fraction: () => uint32() / 4294967296 };
}
