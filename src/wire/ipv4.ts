// IPv4 header (RFC 791). Version and IHL are not stored: the version is always 4
// and the IHL follows from the options, so a value cannot contradict itself.

import { internetChecksum } from "./checksum.ts";
import { readIpv4, writeIpv4 } from "./ipv4-address.ts";
import { fail, ok, type Parsed } from "./parsed.ts";

export const IPPROTO_ICMP = 1;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_GRE = 47;
export const IPPROTO_ICMPV6 = 58;

export const IPV4_MIN_HEADER_LENGTH = 20;
export const IPV4_MAX_HEADER_LENGTH = 60;

export interface Ipv4Header {
  readonly dscp: number;
  readonly ecn: number;
  /** Header plus payload, as carried in the header. */
  readonly totalLength: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** In units of 8 bytes, as carried. */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  /** As read by parse; encode computes it and ignores this. */
  readonly checksum: number;
  readonly src: number;
  readonly dst: number;
  /** Raw option bytes (a view into the parsed buffer); length a multiple of 4. */
  readonly options: Uint8Array;
}

/**
 * Parses and validates the header at `offset`: version 4, IHL >= 5, totalLength
 * within [IHL*4, available bytes], header checksum. `length` is the header length;
 * the payload is [offset + length, offset + totalLength) (bytes after it are link padding).
 */
export function parseIpv4Header(buf: Uint8Array, offset = 0, end = buf.length): Parsed<Ipv4Header> {
  if (end > buf.length) end = buf.length;
  const avail = end - offset;
  if (avail < IPV4_MIN_HEADER_LENGTH) return fail("truncated", offset, "IPv4 header needs 20 bytes");
  const b0 = buf[offset]!;
  if (b0 >>> 4 !== 4) return fail("bad-version", offset, `IP version ${b0 >>> 4}, expected 4`);
  const headerLength = (b0 & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) return fail("bad-length", offset, `IHL ${b0 & 0x0f} < 5`);
  if (avail < headerLength) return fail("truncated", offset, `IHL says ${headerLength} header bytes, ${avail} present`);
  const totalLength = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  if (totalLength < headerLength) {
    return fail("bad-length", offset + 2, `total length ${totalLength} < header length ${headerLength}`);
  }
  if (totalLength > avail) return fail("truncated", offset + 2, `total length ${totalLength}, ${avail} bytes present`);
  if (internetChecksum(buf, offset, offset + headerLength) !== 0) {
    return fail("bad-checksum", offset + 10, "IPv4 header checksum mismatch");
  }
  const fragWord = (buf[offset + 6]! << 8) | buf[offset + 7]!;
  return ok(
    {
      dscp: buf[offset + 1]! >>> 2,
      ecn: buf[offset + 1]! & 0x3,
      totalLength,
      identification: (buf[offset + 4]! << 8) | buf[offset + 5]!,
      dontFragment: (fragWord & 0x4000) !== 0,
      moreFragments: (fragWord & 0x2000) !== 0,
      fragmentOffset: fragWord & 0x1fff,
      ttl: buf[offset + 8]!,
      protocol: buf[offset + 9]!,
      checksum: (buf[offset + 10]! << 8) | buf[offset + 11]!,
      src: readIpv4(buf, offset + 12),
      dst: readIpv4(buf, offset + 16),
      options: buf.subarray(offset + 20, offset + headerLength),
    },
    headerLength,
  );
}

/** Header length: 20 plus the options rounded up to a 4-byte multiple (padded with End of Options). */
export function ipv4HeaderLength(h: { readonly options: Uint8Array }): number {
  return IPV4_MIN_HEADER_LENGTH + ((h.options.length + 3) & ~3);
}

/** Writes the header with a freshly computed checksum; returns the header length. */
export function encodeIpv4Header(h: Ipv4Header, out: Uint8Array, offset: number): number {
  const len = ipv4HeaderLength(h);
  if (len > IPV4_MAX_HEADER_LENGTH) throw new RangeError("IPv4 options exceed 40 bytes");
  if (offset < 0 || out.length - offset < len) throw new RangeError("IPv4 header does not fit");
  writeIpv4Fixed(out, offset, len, h.dscp, h.ecn, h.totalLength, h.identification, h.dontFragment, h.moreFragments, h.fragmentOffset, h.ttl, h.protocol, h.src, h.dst);
  out.set(h.options, offset + 20);
  out.fill(0, offset + 20 + h.options.length, offset + len);
  writeIpv4Checksum(out, offset, len);
  return len;
}

/**
 * The 20 fixed bytes with a zero checksum, positional so the datapath can build a
 * header per packet without an object. Call writeIpv4Checksum after any options.
 */
export function writeIpv4Fixed(
  out: Uint8Array,
  offset: number,
  headerLength: number,
  dscp: number,
  ecn: number,
  totalLength: number,
  identification: number,
  dontFragment: boolean,
  moreFragments: boolean,
  fragmentOffset: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  const frag = (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | (fragmentOffset & 0x1fff);
  out[offset] = 0x40 | ((headerLength >>> 2) & 0x0f);
  out[offset + 1] = ((dscp & 0x3f) << 2) | (ecn & 0x3);
  out[offset + 2] = totalLength >>> 8;
  out[offset + 3] = totalLength;
  out[offset + 4] = identification >>> 8;
  out[offset + 5] = identification;
  out[offset + 6] = frag >>> 8;
  out[offset + 7] = frag;
  out[offset + 8] = ttl;
  out[offset + 9] = protocol;
  out[offset + 10] = 0;
  out[offset + 11] = 0;
  writeIpv4(src, out, offset + 12);
  writeIpv4(dst, out, offset + 16);
}

/** Computes and stores the header checksum of the header at `offset` (checksum field must be 0). */
export function writeIpv4Checksum(out: Uint8Array, offset: number, headerLength: number): void {
  const c = internetChecksum(out, offset, offset + headerLength);
  out[offset + 10] = c >>> 8;
  out[offset + 11] = c;
}
