// GRE header (RFC 2784 with the RFC 2890 Key and Sequence Number extensions).
// The AN uses it for IPv6-in-GRE-in-IPv4 with a per-MN key (RFC 6245 via MIPv4).

import { internetChecksum } from "./checksum.ts";
import { fail, ok, type Parsed } from "./parsed.ts";

export const GRE_BASE_LENGTH = 4;

const FLAG_C = 0x8000;
const FLAG_K = 0x2000;
const FLAG_S = 0x1000;
// RFC 2784 2.3: bits 1-5 (R, K, S, s, Recur's first bit in RFC 1701). With RFC 2890
// K and S are understood, leaving bits 1, 4 and 5 as "discard if set".
const MUST_BE_ZERO = 0x4c00;
const VERSION_MASK = 0x0007;

export interface GreHeader {
  readonly protocolType: number;
  /** null: C bit clear. Otherwise the Checksum field as read; encode recomputes it. */
  readonly checksum: number | null;
  /** null: K bit clear. */
  readonly key: number | null;
  /** null: S bit clear. */
  readonly sequence: number | null;
}

export function greHeaderLength(h: Pick<GreHeader, "checksum" | "key" | "sequence">): number {
  return GRE_BASE_LENGTH + (h.checksum !== null ? 4 : 0) + (h.key !== null ? 4 : 0) + (h.sequence !== null ? 4 : 0);
}

function u32(buf: Uint8Array, p: number): number {
  return ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
}

/**
 * Parses the GRE header of the packet filling buf[offset, end). When C is set the
 * checksum over header and payload (to `end`) is verified. Reserved bits 6-12
 * and Reserved1 are ignored as RFC 2784 requires. `length` is the header length.
 */
export function parseGre(buf: Uint8Array, offset = 0, end = buf.length): Parsed<GreHeader> {
  if (end > buf.length) end = buf.length;
  const avail = end - offset;
  if (avail < GRE_BASE_LENGTH) return fail("truncated", offset, "GRE header needs 4 bytes");
  const flags = (buf[offset]! << 8) | buf[offset + 1]!;
  if ((flags & VERSION_MASK) !== 0) return fail("bad-version", offset + 1, `GRE version ${flags & VERSION_MASK}, expected 0`);
  if ((flags & MUST_BE_ZERO) !== 0) return fail("bad-value", offset, "GRE routing/strict-route/recursion bits set");
  const hasC = (flags & FLAG_C) !== 0;
  const hasK = (flags & FLAG_K) !== 0;
  const hasS = (flags & FLAG_S) !== 0;
  const length = GRE_BASE_LENGTH + (hasC ? 4 : 0) + (hasK ? 4 : 0) + (hasS ? 4 : 0);
  if (avail < length) return fail("truncated", offset, `GRE header needs ${length} bytes, ${avail} present`);
  let p = offset + GRE_BASE_LENGTH;
  let checksum: number | null = null;
  if (hasC) {
    checksum = (buf[p]! << 8) | buf[p + 1]!;
    if (internetChecksum(buf, offset, end) !== 0) return fail("bad-checksum", p, "GRE checksum mismatch");
    p += 4;
  }
  let key: number | null = null;
  if (hasK) {
    key = u32(buf, p);
    p += 4;
  }
  const sequence = hasS ? u32(buf, p) : null;
  return ok({ protocolType: (buf[offset + 2]! << 8) | buf[offset + 3]!, checksum, key, sequence }, length);
}

/**
 * Writes the header at `offset`. With a checksum, the `payloadLength` bytes of
 * payload must already follow the header in `out`, since the checksum covers them.
 * Returns the header length.
 */
export function encodeGre(h: GreHeader, out: Uint8Array, offset: number, payloadLength = 0): number {
  const len = greHeaderLength(h);
  if (offset < 0 || out.length - offset < len) throw new RangeError("GRE header does not fit");
  const flags = (h.checksum !== null ? FLAG_C : 0) | (h.key !== null ? FLAG_K : 0) | (h.sequence !== null ? FLAG_S : 0);
  out[offset] = flags >>> 8;
  out[offset + 1] = 0;
  out[offset + 2] = h.protocolType >>> 8;
  out[offset + 3] = h.protocolType;
  let p = offset + GRE_BASE_LENGTH;
  const checksumAt = p;
  if (h.checksum !== null) {
    out.fill(0, p, p + 4);
    p += 4;
  }
  if (h.key !== null) {
    put32(out, p, h.key);
    p += 4;
  }
  if (h.sequence !== null) put32(out, p, h.sequence);
  if (h.checksum !== null) {
    if (out.length - offset < len + payloadLength) throw new RangeError("GRE payload not in buffer");
    const c = internetChecksum(out, offset, offset + len + payloadLength);
    out[checksumAt] = c >>> 8;
    out[checksumAt + 1] = c;
  }
  return len;
}

function put32(out: Uint8Array, p: number, v: number): void {
  out[p] = v >>> 24;
  out[p + 1] = v >>> 16;
  out[p + 2] = v >>> 8;
  out[p + 3] = v;
}
