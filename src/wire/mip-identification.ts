// The 64-bit Identification of Registration Requests with timestamp replay
// protection (RFC 3344/5944 5.7, 5.7.1): an NTP timestamp (seconds since 1900 in
// the high 32 bits, binary fraction in the low 32), strictly increasing, because
// the HA uses it as a sequence number.
import { randomInt } from "node:crypto";

const NTP_UNIX_OFFSET_S = 2_208_988_800n; // 1900-01-01 to 1970-01-01
const MASK32 = 0xffff_ffffn;
const MASK64 = 0xffff_ffff_ffff_ffffn;
const TWO32 = 0x1_0000_0000n;
/** Fraction units in the narrowest millisecond slot: the bits a ms clock cannot fill. */
const SUB_MS_UNITS = TWO32 / 1000n;

/**
 * NTP form of a Unix time. The fraction is rounded up so that unixMsFromNtp gives
 * the same millisecond back; seconds wrap at the 2036 NTP era boundary.
 */
export function ntpFromUnixMs(ms: number): bigint {
  const whole = Math.floor(ms);
  const sec = Math.floor(whole / 1000);
  const rem = BigInt(whole - sec * 1000);
  const ntpSec = (BigInt(sec) + NTP_UNIX_OFFSET_S) & MASK32;
  const frac = (rem * TWO32 + 999n) / 1000n;
  return (ntpSec << 32n) | frac;
}

/**
 * Unix milliseconds of an NTP timestamp, floor of the fraction. Seconds with the
 * top bit clear are taken as era 1 (2036-2104), as RFC 4330 3 suggests, so the
 * conversion survives the 2036 wrap.
 */
export function unixMsFromNtp(id: bigint): number {
  const sec = (id >> 32n) & MASK32;
  const frac = id & MASK32;
  const era1 = sec < 0x8000_0000n;
  const unixSec = sec - NTP_UNIX_OFFSET_S + (era1 ? TWO32 : 0n);
  return Number(unixSec) * 1000 + Number((frac * 1000n) / TWO32);
}

/**
 * The Identification for the next Registration Request of one binding.
 *
 * clockOffsetMs is what clockOffsetFromMismatch last learned (0 before any 133).
 * The bits below the millisecond are random (5.7.1: "bits that are not available
 * from a time source SHOULD be generated from a good source of randomness"), which
 * also makes the low 32 bits unguessable to an off-path replier.
 *
 * The result is greater than previous even if the clock stepped back or two
 * requests share a millisecond (5.7.1: the HA treats it as a sequence number), and
 * its low-order 32 bits differ from previous's: those are the bits a reply
 * echoes (5.7), so a late reply to an earlier transmission cannot match this one.
 */
export function nextIdentification(
  nowMs: number,
  clockOffsetMs: number,
  previous: bigint | undefined,
  random32?: number,
): bigint {
  const r = BigInt((random32 ?? randomInt(0, 0x1_0000_0000)) >>> 0);
  let id = ntpFromUnixMs(nowMs + clockOffsetMs) + (r % SUB_MS_UNITS);
  if (previous !== undefined) {
    // Any step below 2^32 changes the low word; a step of >= 1 s might not.
    if (id <= previous) id = previous + 1n;
    else if ((id & MASK32) === (previous & MASK32)) id += 1n;
  }
  return id & MASK64;
}

/**
 * The Identification right after an authenticated 133: the HA's clock (now known
 * through clockOffsetMs) rules, so the rejected value is no floor. Were it one, an
 * AN whose clock ran ahead would resend the same future time and be refused again
 * (RFC 5944 5.7). Only the low word must still differ, so a late reply to the
 * rejected request cannot match.
 *
 * `floor` is the newest identification the HA accepted for this binding: RFC 3344
 * 5.7 has the HA refuse any timestamp not greater than all it accepted before, and
 * the resynchronised clock is only known to the second (clockOffsetFromMismatch
 * takes the middle of it), so without the floor the next request could fall below
 * the last accepted one and be refused again.
 */
export function resyncedIdentification(nowMs: number, clockOffsetMs: number, rejected: bigint, random32?: number, floor?: bigint): bigint {
  const r = BigInt((random32 ?? randomInt(0, 0x1_0000_0000)) >>> 0);
  let id = ntpFromUnixMs(nowMs + clockOffsetMs) + (r % SUB_MS_UNITS);
  if (floor !== undefined && id <= floor) id = floor + 1n + (r % SUB_MS_UNITS);
  if ((id & MASK32) === (rejected & MASK32)) id += 1n;
  return id & MASK64;
}

/** 5.7: the HA copies the low-order 32 bits of the request into every reply. */
export function replyMatchesRequest(requestId: bigint, replyId: bigint): boolean {
  return (requestId & MASK32) === (replyId & MASK32);
}

/**
 * The offset to add to the local clock after reply code 133: 5.7.1 has the HA put
 * the high-order 32 bits (whole seconds) of its own time of day in the reply. Its
 * clock read somewhere in [s, s + 1) s, so the middle of that second is taken.
 * The caller checks replyMatchesRequest first (3.6.2.1), or anyone could set our clock.
 */
export function clockOffsetFromMismatch(replyId: bigint, localNowMs: number): number {
  const haMs = unixMsFromNtp(replyId & ~MASK32 & MASK64) + 500;
  return haMs - Math.floor(localNowMs);
}
