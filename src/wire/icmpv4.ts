// ICMPv4 error messages (RFC 792) as an IPv4 packet read from a raw ICMP socket:
// Destination Unreachable (3), Time Exceeded (11), Parameter Problem (12). Each
// quotes the IP header of the packet in error and at least 8 more bytes (RFC 1812
// 4.3.2.3: as much as fits in 576). For "fragmentation needed" (3/4) the RFC 1191
// next-hop MTU sits in the low 16 bits of the second word (0 from older routers).
// RFC 4884 extensions after the quote are not read.

import { internetChecksum } from "./checksum.ts";
import { IPPROTO_GRE, IPPROTO_ICMP, parseIpv4Header } from "./ipv4.ts";
import { readIpv4 } from "./ipv4-address.ts";
import { fail, ok, type Parsed } from "./parsed.ts";

export const ICMPV4_DESTINATION_UNREACHABLE = 3;
export const ICMPV4_TIME_EXCEEDED = 11;
export const ICMPV4_PARAMETER_PROBLEM = 12;
/** Destination Unreachable code 4: fragmentation needed and DF set. */
export const ICMPV4_FRAGMENTATION_NEEDED = 4;

const ERROR_TYPES = new Set([ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_TIME_EXCEEDED, ICMPV4_PARAMETER_PROBLEM]);

/** The IPv4 header of the packet in error, as quoted (its checksum is not checked: routers rewrite TTL). */
export interface QuotedIpv4 {
  readonly src: number;
  readonly dst: number;
  readonly protocol: number;
  readonly identification: number;
  readonly totalLength: number;
  readonly dontFragment: boolean;
  readonly headerLength: number;
}

export interface Icmpv4Error {
  /** Who reports (outer source) and to whom (outer destination: one of ours). */
  readonly from: number;
  readonly to: number;
  readonly type: number;
  readonly code: number;
  /** RFC 1191 next-hop MTU for type 3 code 4; 0 otherwise or when the router did not say. */
  readonly nextHopMtu: number;
  readonly quoted: QuotedIpv4;
  /** GRE key of a quoted GRE packet with the K bit, when the quote reaches it; else null. */
  readonly quotedGreKey: number | null;
  /** The quoted bytes after the quoted IPv4 header (a view). */
  readonly quotedPayload: Uint8Array;
}

/**
 * Parses a whole IPv4 packet carrying an ICMPv4 error: outer header valid and not a
 * fragment, protocol 1, ICMP checksum, an error type ("unexpected-type" for echo and
 * other queries), a quoted IPv4 header of version 4 with at least 8 bytes after it.
 */
export function parseIcmpv4Error(buf: Uint8Array, offset = 0, end = buf.length): Parsed<Icmpv4Error> {
  const ipr = parseIpv4Header(buf, offset, end);
  if (!ipr.ok) return ipr;
  const ip = ipr.value;
  if (ip.protocol !== IPPROTO_ICMP) return fail("unexpected-type", offset + 9, `IP protocol ${ip.protocol}, expected 1 (ICMP)`);
  if (ip.moreFragments || ip.fragmentOffset !== 0) return fail("bad-value", offset + 6, "ICMP packet is a fragment");
  const icmp = offset + ipr.length;
  const icmpEnd = offset + ip.totalLength;
  if (icmpEnd - icmp < 8) return fail("truncated", icmp, "ICMP header needs 8 bytes");
  if (internetChecksum(buf, icmp, icmpEnd) !== 0) return fail("bad-checksum", icmp + 2, "ICMP checksum mismatch");
  const type = buf[icmp]!;
  const code = buf[icmp + 1]!;
  if (!ERROR_TYPES.has(type)) return fail("unexpected-type", icmp, `ICMP type ${type} is not an error message`);
  const q = icmp + 8;
  if (icmpEnd - q < 20) return fail("truncated", q, "the quoted IPv4 header needs 20 bytes");
  if (buf[q]! >>> 4 !== 4) return fail("bad-version", q, `quoted IP version ${buf[q]! >>> 4}, expected 4`);
  const headerLength = (buf[q]! & 0x0f) * 4;
  if (headerLength < 20) return fail("bad-length", q, `quoted IHL ${headerLength / 4} < 5`);
  if (icmpEnd - q < headerLength + 8) return fail("truncated", q, "the quote needs the IPv4 header and 8 more bytes (RFC 792)");
  const protocol = buf[q + 9]!;
  const payload = buf.subarray(q + headerLength, icmpEnd);
  let quotedGreKey: number | null = null;
  // GRE with the K bit: the key follows the checksum word when C is set (RFC 2890).
  if (protocol === IPPROTO_GRE && payload.length >= 4 && (payload[0]! & 0x20) !== 0) {
    const at = (payload[0]! & 0x80) !== 0 ? 8 : 4;
    if (payload.length >= at + 4) quotedGreKey = readIpv4(payload, at);
  }
  const isFragNeeded = type === ICMPV4_DESTINATION_UNREACHABLE && code === ICMPV4_FRAGMENTATION_NEEDED;
  return ok(
    {
      from: ip.src,
      to: ip.dst,
      type,
      code,
      nextHopMtu: isFragNeeded ? (buf[icmp + 6]! << 8) | buf[icmp + 7]! : 0,
      quoted: {
        src: readIpv4(buf, q + 12),
        dst: readIpv4(buf, q + 16),
        protocol,
        identification: (buf[q + 4]! << 8) | buf[q + 5]!,
        totalLength: (buf[q + 2]! << 8) | buf[q + 3]!,
        dontFragment: (buf[q + 6]! & 0x40) !== 0,
        headerLength,
      },
      quotedGreKey,
      quotedPayload: payload,
    },
    ip.totalLength,
  );
}

/** Writes an ICMPv4 error message (header + quote) at out[offset]: for tests and peers. Returns its length. */
export function encodeIcmpv4Error(out: Uint8Array, offset: number, type: number, code: number, word: number, quote: Uint8Array): number {
  const length = 8 + quote.length;
  if (offset < 0 || out.length - offset < length) throw new RangeError("ICMP message does not fit");
  out[offset] = type;
  out[offset + 1] = code;
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  out[offset + 4] = word >>> 24;
  out[offset + 5] = word >>> 16;
  out[offset + 6] = word >>> 8;
  out[offset + 7] = word;
  out.set(quote, offset + 8);
  const c = internetChecksum(out, offset, offset + length);
  out[offset + 2] = c >>> 8;
  out[offset + 3] = c;
  return length;
}
