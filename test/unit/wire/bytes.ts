// Test helpers for the wire formats: hex literals, an independent checksum, and
// fast-check arbitraries for hostile input built from valid packets.
import fc from "fast-check";
import { expect } from "vitest";
import type { Parsed } from "../../../src/wire/parsed.ts";

/** Hex with optional whitespace and "|" separators (used to mark field boundaries). */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/[\s|]/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex literal: ${s}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * RFC 1071 done the slow, obvious way (BigInt sum of words, then folding): an
 * oracle independent of src/wire/checksum.ts.
 */
export function referenceChecksum(...parts: Uint8Array[]): number {
  const all = concat(...parts);
  let sum = 0n;
  for (let i = 0; i < all.length; i += 2) sum += BigInt(((all[i] ?? 0) << 8) | (all[i + 1] ?? 0));
  while (sum > 0xffffn) sum = (sum & 0xffffn) + (sum >> 16n);
  return Number(~sum & 0xffffn);
}

/** RFC 8200 8.1 pseudo-header bytes. */
export function ipv6Pseudo(src: Uint8Array, dst: Uint8Array, length: number, nextHeader: number): Uint8Array {
  const p = new Uint8Array(40);
  p.set(src, 0);
  p.set(dst, 16);
  new DataView(p.buffer).setUint32(32, length);
  p[39] = nextHeader;
  return p;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export function bytesOf(n: number): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength: n, maxLength: n });
}

/** Valid packets damaged the ways a hostile or broken peer would: flipped bytes, cut short, extended. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const flips = fc.array(fc.tuple(fc.nat(), u8), { maxLength: 4 });
  return fc
    .tuple(valid, flips, fc.option(fc.nat(), { nil: null }), fc.uint8Array({ maxLength: 12 }), fc.boolean())
    .map(([base, fl, cut, extra, extend]) => {
      const b = base.slice();
      for (const [at, v] of fl) if (b.length > 0) b[at % b.length] = v;
      const kept = cut === null ? b : b.subarray(0, cut % (b.length + 1));
      return extend ? concat(kept, extra) : kept;
    });
}

/** Random bytes and mutated valid packets, half each. */
export function hostile(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(fc.uint8Array({ maxLength: 120 }), mutated(valid));
}

/** A parse must return a well-formed result whose offsets stay inside what it was given. */
export function expectSane<T>(r: Parsed<T>, start: number, end: number): void {
  // Plain comparisons first: vitest's expect costs microseconds, too many at 100k runs.
  if (r.ok) {
    if (r.length >= 0 && start + r.length <= end) return;
    expect(r.length).toBeGreaterThanOrEqual(0);
    expect(start + r.length).toBeLessThanOrEqual(end);
  } else {
    if (r.error.at >= start && r.error.at <= end && typeof r.error.detail === "string") return;
    expect(r.error.at).toBeGreaterThanOrEqual(start);
    expect(r.error.at).toBeLessThanOrEqual(end);
  }
}

/** Structural equality for the values wire produces (primitives, Uint8Array, arrays, plain objects). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b) || a instanceof Uint8Array || b instanceof Uint8Array) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** expect(actual).toEqual(expected), but only paying for vitest's matcher when they differ. */
export function same(actual: unknown, expected: unknown): void {
  if (!deepEqual(actual, expected)) expect(actual).toEqual(expected);
}

/** Unwraps an ok result or fails the test with the error. */
export function must<T>(r: Parsed<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.kind} at ${r.error.at}: ${r.error.detail}`);
  return r.value;
}

export function errorOf<T>(r: Parsed<T>): { kind: string; at: number } {
  if (r.ok) throw new Error("expected an error, got ok");
  return { kind: r.error.kind, at: r.error.at };
}
