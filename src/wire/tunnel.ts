// The AN's two tunnel framings towards the HA: IPv6 in IPv4 (RFC 4213, protocol
// 41) and IPv6 in GRE in IPv4 (RFC 2784/2890, protocol 47, with an optional key).
// Encapsulation writes the outer headers in front of an inner packet the datapath
// already placed at a fixed headroom, so no packet is copied.

import { ETHERTYPE_IPV6 } from "./ethernet.ts";
import { parseGre } from "./gre.ts";
import { IPPROTO_GRE, IPPROTO_IPV6, parseIpv4Header, writeIpv4Checksum, writeIpv4Fixed } from "./ipv4.ts";
import { IPV6_HEADER_LENGTH } from "./ipv6.ts";
import { fail, ok, type Parsed } from "./parsed.ts";

const OUTER_IPV4_LENGTH = 20;

export interface TunnelParams {
  readonly src: number;
  readonly dst: number;
  readonly ttl: number;
  readonly dontFragment: boolean;
  readonly identification: number;
  /** RFC 4213 3.5: 0 unless otherwise specified (RFC 2983 / RFC 3168 9.1 if copying). */
  readonly tos?: number;
  /** null: 6in4. Otherwise GRE, with the key field when key is not null. */
  readonly gre: { readonly key: number | null } | null;
}

/** Outer header bytes: 20 for 6in4, 24 for GRE, 28 for GRE with key. */
export function tunnelHeaderLength(p: Pick<TunnelParams, "gre">): number {
  if (p.gre === null) return OUTER_IPV4_LENGTH;
  return OUTER_IPV4_LENGTH + (p.gre.key === null ? 4 : 8);
}

export function encapsulatedLength(p: Pick<TunnelParams, "gre">, innerLength: number): number {
  return tunnelHeaderLength(p) + innerLength;
}

/**
 * Writes the outer IPv4 (and GRE) header at `offset`, in front of the
 * `innerLength`-byte IPv6 packet that must already sit at offset + tunnelHeaderLength(p).
 * Returns the header length (the packet is header length + innerLength bytes).
 */
export function writeTunnelHeaders(out: Uint8Array, offset: number, p: TunnelParams, innerLength: number): number {
  const hdr = tunnelHeaderLength(p);
  const total = hdr + innerLength;
  if (total > 0xffff) throw new RangeError("tunnel packet exceeds the IPv4 maximum");
  if (offset < 0 || out.length - offset < total) throw new RangeError("tunnel packet does not fit");
  const protocol = p.gre === null ? IPPROTO_IPV6 : IPPROTO_GRE;
  const tos = p.tos ?? 0;
  writeIpv4Fixed(out, offset, OUTER_IPV4_LENGTH, tos >>> 2, tos & 3, total, p.identification, p.dontFragment, false, 0, p.ttl, protocol, p.src, p.dst);
  writeIpv4Checksum(out, offset, OUTER_IPV4_LENGTH);
  if (p.gre !== null) {
    // By hand rather than encodeGre: no header object per packet.
    const g = offset + OUTER_IPV4_LENGTH;
    const key = p.gre.key;
    out[g] = key === null ? 0 : 0x20; // K
    out[g + 1] = 0;
    out[g + 2] = ETHERTYPE_IPV6 >>> 8;
    out[g + 3] = ETHERTYPE_IPV6 & 0xff;
    if (key !== null) {
      out[g + 4] = key >>> 24;
      out[g + 5] = key >>> 16;
      out[g + 6] = key >>> 8;
      out[g + 7] = key;
    }
  }
  return hdr;
}

export interface TunnelPacket {
  readonly src: number;
  readonly dst: number;
  readonly kind: "ip6ip" | "gre";
  /** GRE key, null for 6in4 and keyless GRE. */
  readonly key: number | null;
  /** GRE sequence number (RFC 2890) if present; ordering is the caller's business. */
  readonly sequence: number | null;
  /** Absolute offset of the inner IPv6 packet in the parsed buffer. */
  readonly innerOffset: number;
  /** From the inner IPv6 payload length (RFC 4213 3.6: the outer packet may be padded). */
  readonly innerLength: number;
}

/**
 * Validates an outer IPv4 packet (header, checksum, not a fragment: the kernel
 * reassembles before a raw socket sees it), its GRE header if protocol 47
 * (protocol type 0x86dd), and that the inner packet is a
 * complete IPv6 packet. `length` is the outer total length.
 */
export function parseTunnelPacket(buf: Uint8Array, offset = 0, end = buf.length): Parsed<TunnelPacket> {
  const ipr = parseIpv4Header(buf, offset, end);
  if (!ipr.ok) return ipr;
  const ip = ipr.value;
  if (ip.moreFragments || ip.fragmentOffset !== 0) return fail("bad-value", offset + 6, "outer IPv4 packet is a fragment");
  const outerEnd = offset + ip.totalLength;
  let inner = offset + ipr.length;
  let kind: TunnelPacket["kind"];
  let key: number | null = null;
  let sequence: number | null = null;
  if (ip.protocol === IPPROTO_IPV6) {
    kind = "ip6ip";
  } else if (ip.protocol === IPPROTO_GRE) {
    kind = "gre";
    const g = parseGre(buf, inner, outerEnd);
    if (!g.ok) return g;
    if (g.value.protocolType !== ETHERTYPE_IPV6) {
      return fail("unexpected-type", inner + 2, `GRE protocol type 0x${g.value.protocolType.toString(16)}, expected 0x86dd`);
    }
    key = g.value.key;
    sequence = g.value.sequence;
    inner += g.length;
  } else {
    return fail("unexpected-type", offset + 9, `IP protocol ${ip.protocol}, expected 41 or 47`);
  }
  const avail = outerEnd - inner;
  if (avail < IPV6_HEADER_LENGTH) return fail("truncated", inner, "inner IPv6 header needs 40 bytes");
  if (buf[inner]! >>> 4 !== 6) return fail("bad-version", inner, `inner IP version ${buf[inner]! >>> 4}, expected 6`);
  const innerLength = IPV6_HEADER_LENGTH + ((buf[inner + 4]! << 8) | buf[inner + 5]!);
  if (innerLength > avail) return fail("truncated", inner + 4, `inner IPv6 needs ${innerLength} bytes, ${avail} present`);
  return ok({ src: ip.src, dst: ip.dst, kind, key, sequence, innerOffset: inner, innerLength }, ip.totalLength);
}

/**
 * RFC 4213 3.6: decapsulated packets whose IPv6 source is multicast, loopback,
 * IPv4-compatible (::/96 except ::) or IPv4-mapped (::ffff:0:0/96) MUST be discarded.
 */
export function isForbiddenDecapsulatedSource(addr: Uint8Array, offset = 0): boolean {
  if (addr[offset] === 0xff) return true;
  for (let i = 0; i < 10; i++) if (addr[offset + i] !== 0) return false;
  const w5 = (addr[offset + 10]! << 8) | addr[offset + 11]!;
  if (w5 === 0xffff) return true;
  if (w5 !== 0) return false;
  // ::/96 remains: all but the unspecified address (kept for DAD) are forbidden, loopback ::1 included.
  for (let i = 12; i < 16; i++) if (addr[offset + i] !== 0) return true;
  return false;
}
