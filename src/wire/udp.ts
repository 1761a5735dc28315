// UDP (RFC 768) over IPv4: the AN's MIPv4 signalling (port 434) and the pcaps and
// tests that need whole packets of it.

import { finishChecksum, ipv4PseudoHeaderSum, sumWords } from "./checksum.ts";
import { IPPROTO_UDP, parseIpv4Header, writeIpv4Checksum, writeIpv4Fixed, type Ipv4Header } from "./ipv4.ts";
import { fail, ok, type Parsed } from "./parsed.ts";

export const UDP_HEADER_LENGTH = 8;

export interface UdpHeader {
  readonly srcPort: number;
  readonly dstPort: number;
  /** Header plus payload, as carried. */
  readonly length: number;
  /** As read; 0 means the sender did not compute one (allowed over IPv4). */
  readonly checksum: number;
}

/** Parses the header; checks 8 <= length <= available bytes. `length` is 8. */
export function parseUdpHeader(buf: Uint8Array, offset = 0, end = buf.length): Parsed<UdpHeader> {
  if (end > buf.length) end = buf.length;
  const avail = end - offset;
  if (avail < UDP_HEADER_LENGTH) return fail("truncated", offset, "UDP header needs 8 bytes");
  const length = (buf[offset + 4]! << 8) | buf[offset + 5]!;
  if (length < UDP_HEADER_LENGTH) return fail("bad-length", offset + 4, `UDP length ${length} < 8`);
  if (length > avail) return fail("truncated", offset + 4, `UDP length ${length}, ${avail} bytes present`);
  return ok(
    {
      srcPort: (buf[offset]! << 8) | buf[offset + 1]!,
      dstPort: (buf[offset + 2]! << 8) | buf[offset + 3]!,
      length,
      checksum: (buf[offset + 6]! << 8) | buf[offset + 7]!,
    },
    UDP_HEADER_LENGTH,
  );
}

/** Writes the header as given, checksum included (see writeUdpIpv4 to compute one). */
export function encodeUdpHeader(h: UdpHeader, out: Uint8Array, offset: number): number {
  if (offset < 0 || out.length - offset < UDP_HEADER_LENGTH) throw new RangeError("UDP header does not fit");
  out[offset] = h.srcPort >>> 8;
  out[offset + 1] = h.srcPort;
  out[offset + 2] = h.dstPort >>> 8;
  out[offset + 3] = h.dstPort;
  out[offset + 4] = h.length >>> 8;
  out[offset + 5] = h.length;
  out[offset + 6] = h.checksum >>> 8;
  out[offset + 7] = h.checksum;
  return UDP_HEADER_LENGTH;
}

/** True if the datagram at `offset` (UDP length from its header) checks against the IPv4 pseudo-header, or carries no checksum. */
export function verifyUdpIpv4Checksum(buf: Uint8Array, offset: number, src: number, dst: number): boolean {
  const length = (buf[offset + 4]! << 8) | buf[offset + 5]!;
  if (buf[offset + 6] === 0 && buf[offset + 7] === 0) return true;
  return finishChecksum(sumWords(buf, offset, offset + length, ipv4PseudoHeaderSum(src, dst, IPPROTO_UDP, length))) === 0;
}

/** Writes the UDP header in front of `payloadLength` bytes already at offset + 8, with its checksum. */
export function writeUdpIpv4(
  out: Uint8Array,
  offset: number,
  srcPort: number,
  dstPort: number,
  payloadLength: number,
  src: number,
  dst: number,
): number {
  const length = UDP_HEADER_LENGTH + payloadLength;
  if (length > 0xffff) throw new RangeError("UDP datagram too long");
  if (offset < 0 || out.length - offset < length) throw new RangeError("UDP datagram does not fit");
  out[offset] = srcPort >>> 8;
  out[offset + 1] = srcPort;
  out[offset + 2] = dstPort >>> 8;
  out[offset + 3] = dstPort;
  out[offset + 4] = length >>> 8;
  out[offset + 5] = length;
  out[offset + 6] = 0;
  out[offset + 7] = 0;
  let c = finishChecksum(sumWords(out, offset, offset + length, ipv4PseudoHeaderSum(src, dst, IPPROTO_UDP, length)));
  // RFC 768: a computed zero is sent as all ones, zero meaning "no checksum".
  if (c === 0) c = 0xffff;
  out[offset + 6] = c >>> 8;
  out[offset + 7] = c;
  return UDP_HEADER_LENGTH;
}

export interface Ipv4UdpParams {
  readonly src: number;
  readonly dst: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly ttl: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly dscp?: number;
}

export const IPV4_UDP_HEADERS_LENGTH = 28;

export function ipv4UdpLength(payloadLength: number): number {
  return IPV4_UDP_HEADERS_LENGTH + payloadLength;
}

/**
 * Writes a whole IPv4 + UDP packet at `offset`: copies `payload` to offset + 28
 * (overlap with `out` is fine) and fills both headers. Returns the packet length.
 */
export function encodeIpv4Udp(p: Ipv4UdpParams, payload: Uint8Array, out: Uint8Array, offset: number): number {
  const total = ipv4UdpLength(payload.length);
  if (total > 0xffff) throw new RangeError("IPv4 packet too long");
  if (offset < 0 || out.length - offset < total) throw new RangeError("IPv4/UDP packet does not fit");
  out.set(payload, offset + IPV4_UDP_HEADERS_LENGTH);
  writeIpv4Fixed(out, offset, 20, p.dscp ?? 0, 0, total, p.identification, p.dontFragment, false, 0, p.ttl, IPPROTO_UDP, p.src, p.dst);
  writeIpv4Checksum(out, offset, 20);
  writeUdpIpv4(out, offset + 20, p.srcPort, p.dstPort, payload.length, p.src, p.dst);
  return total;
}

export interface Ipv4UdpPacket {
  readonly ip: Ipv4Header;
  readonly udp: UdpHeader;
  /** The UDP payload, a view into the parsed buffer. */
  readonly payload: Uint8Array;
}

/** Parses IPv4 then UDP, checking both checksums; `length` is the IPv4 total length. */
export function parseIpv4Udp(buf: Uint8Array, offset = 0, end = buf.length): Parsed<Ipv4UdpPacket> {
  const ipr = parseIpv4Header(buf, offset, end);
  if (!ipr.ok) return ipr;
  const ip = ipr.value;
  if (ip.protocol !== IPPROTO_UDP) return fail("unexpected-type", offset + 9, `IP protocol ${ip.protocol}, expected UDP`);
  if (ip.moreFragments || ip.fragmentOffset !== 0) return fail("bad-value", offset + 6, "fragmented datagram");
  const u = offset + ipr.length;
  const ipEnd = offset + ip.totalLength;
  const ur = parseUdpHeader(buf, u, ipEnd);
  if (!ur.ok) return ur;
  if (!verifyUdpIpv4Checksum(buf, u, ip.src, ip.dst)) return fail("bad-checksum", u + 6, "UDP checksum mismatch");
  return ok({ ip, udp: ur.value, payload: buf.subarray(u + UDP_HEADER_LENGTH, u + ur.value.length) }, ip.totalLength);
}
