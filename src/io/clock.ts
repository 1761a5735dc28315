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
  /** The same with a sub-millisecond fraction (issue 9 item 5: pcap records microseconds); default wallMs. */
  preciseWallMs?(): number;
}

export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
  preciseWallMs: () => preciseWallMs(),
};

/**
 * Wall-clock milliseconds with microseconds: Date.now() has whole milliseconds only.
 * timeOrigin + performance.now() has the fraction but does not follow a wall-clock
 * step; so it is used while it agrees with Date.now() to the millisecond, and after
 * a step the fraction of the monotonic clock is put on Date.now().
 */
export function preciseWallMs(wall: number = Date.now(), mono: number = performance.now(), origin: number = performance.timeOrigin): number {
  const precise = origin + mono;
  if (Math.floor(precise) === wall) return precise;
  return wall + (mono - Math.floor(mono));
}

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
