// IPv6 fixed header (RFC 8200 section 3). Extension headers are not walked here:
// the AN only looks at ND (never behind extension headers in practice) and
// forwards everything else untouched.

import { fail, ok, type Parsed } from "./parsed.ts";

export const IPV6_HEADER_LENGTH = 40;

export interface Ipv6Header {
  readonly trafficClass: number;
  /** 20 bits. */
  readonly flowLabel: number;
  readonly payloadLength: number;
  readonly nextHeader: number;
  readonly hopLimit: number;
  /** Views into the parsed buffer. */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
}

/**
 * Parses the fixed header; `length` is 40. The payload is
 * [offset + 40, offset + 40 + payloadLength); bytes beyond it are link padding.
 */
export function parseIpv6Header(buf: Uint8Array, offset = 0, end = buf.length): Parsed<Ipv6Header> {
  if (end > buf.length) end = buf.length;
  const avail = end - offset;
  if (avail < IPV6_HEADER_LENGTH) return fail("truncated", offset, "IPv6 header needs 40 bytes");
  const b0 = buf[offset]!;
  if (b0 >>> 4 !== 6) return fail("bad-version", offset, `IP version ${b0 >>> 4}, expected 6`);
  const payloadLength = (buf[offset + 4]! << 8) | buf[offset + 5]!;
  if (payloadLength > avail - IPV6_HEADER_LENGTH) {
    return fail("truncated", offset + 4, `payload length ${payloadLength}, ${avail - IPV6_HEADER_LENGTH} bytes present`);
  }
  const b1 = buf[offset + 1]!;
  return ok(
    {
      trafficClass: ((b0 & 0x0f) << 4) | (b1 >>> 4),
      flowLabel: ((b1 & 0x0f) << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!,
      payloadLength,
      nextHeader: buf[offset + 6]!,
      hopLimit: buf[offset + 7]!,
      src: buf.subarray(offset + 8, offset + 24),
      dst: buf.subarray(offset + 24, offset + 40),
    },
    IPV6_HEADER_LENGTH,
  );
}

export function encodeIpv6Header(h: Ipv6Header, out: Uint8Array, offset: number): number {
  if (offset < 0 || out.length - offset < IPV6_HEADER_LENGTH) throw new RangeError("IPv6 header does not fit");
  out[offset] = 0x60 | ((h.trafficClass >>> 4) & 0x0f);
  out[offset + 1] = ((h.trafficClass & 0x0f) << 4) | ((h.flowLabel >>> 16) & 0x0f);
  out[offset + 2] = h.flowLabel >>> 8;
  out[offset + 3] = h.flowLabel;
  out[offset + 4] = h.payloadLength >>> 8;
  out[offset + 5] = h.payloadLength;
  out[offset + 6] = h.nextHeader;
  out[offset + 7] = h.hopLimit;
  out.set(h.src.subarray(0, 16), offset + 8);
  out.set(h.dst.subarray(0, 16), offset + 24);
  return IPV6_HEADER_LENGTH;
}
