// ICMPv6 (RFC 4443) as a generic message: type, code, checksum and the rest. The
// checksum covers the RFC 8200 8.1 pseudo-header, so it needs the IPv6 addresses.

import { finishChecksum, ipv6PseudoHeaderSum, sumWords } from "./checksum.ts";
import { IPPROTO_ICMPV6 } from "./ipv4.ts";
import { fail, ok, type Parsed } from "./parsed.ts";

export const ICMPV6_HEADER_LENGTH = 4;

export interface Icmpv6Message {
  readonly type: number;
  readonly code: number;
  /** As read by parse; encode computes it and ignores this. */
  readonly checksum: number;
  /** Everything after the checksum, a view into the parsed buffer. */
  readonly body: Uint8Array;
}

/** Parses the message occupying buf[offset, end) (end = the IPv6 payload end). Does not check the checksum. */
export function parseIcmpv6(buf: Uint8Array, offset = 0, end = buf.length): Parsed<Icmpv6Message> {
  if (end > buf.length) end = buf.length;
  if (end - offset < ICMPV6_HEADER_LENGTH) return fail("truncated", offset, "ICMPv6 header needs 4 bytes");
  return ok(
    {
      type: buf[offset]!,
      code: buf[offset + 1]!,
      checksum: (buf[offset + 2]! << 8) | buf[offset + 3]!,
      body: buf.subarray(offset + ICMPV6_HEADER_LENGTH, end),
    },
    end - offset,
  );
}

/** The checksum field value for buf[offset, end) with the checksum field taken as zero. */
export function computeIcmpv6Checksum(buf: Uint8Array, offset: number, end: number, src: Uint8Array, dst: Uint8Array): number {
  const length = end - offset;
  let acc = ipv6PseudoHeaderSum(src, dst, length, IPPROTO_ICMPV6);
  acc = sumWords(buf, offset, offset + 2, acc);
  acc = sumWords(buf, offset + 4, end, acc);
  return finishChecksum(acc);
}

export function verifyIcmpv6Checksum(buf: Uint8Array, offset: number, end: number, src: Uint8Array, dst: Uint8Array): boolean {
  if (end > buf.length || end - offset < ICMPV6_HEADER_LENGTH) return false;
  return finishChecksum(sumWords(buf, offset, end, ipv6PseudoHeaderSum(src, dst, end - offset, IPPROTO_ICMPV6))) === 0;
}

/** Stores the checksum of the message at buf[offset, end). */
export function writeIcmpv6Checksum(buf: Uint8Array, offset: number, end: number, src: Uint8Array, dst: Uint8Array): void {
  const c = computeIcmpv6Checksum(buf, offset, end, src, dst);
  buf[offset + 2] = c >>> 8;
  buf[offset + 3] = c;
}

export function icmpv6EncodedLength(m: { readonly body: Uint8Array }): number {
  return ICMPV6_HEADER_LENGTH + m.body.length;
}

/** Writes the message with its checksum computed for src/dst; returns bytes written. */
export function encodeIcmpv6(m: Icmpv6Message, out: Uint8Array, offset: number, src: Uint8Array, dst: Uint8Array): number {
  const len = icmpv6EncodedLength(m);
  if (offset < 0 || out.length - offset < len) throw new RangeError("ICMPv6 message does not fit");
  out[offset] = m.type;
  out[offset + 1] = m.code;
  out.set(m.body, offset + ICMPV6_HEADER_LENGTH);
  writeIcmpv6Checksum(out, offset, offset + len, src, dst);
  return len;
}
