// ICMPv6 Packet Too Big (RFC 4443 3.2) as a whole IPv6 packet: the one IPv6 packet
// the AN originates (RFC 4213 3.2.2, with DF set the tunnel is a link of limited
// MTU). Type 2, code 0, the MTU of the next-hop link, and as much of the invoking
// packet as fits without the PTB packet exceeding the IPv6 minimum MTU (1280).

import { writeIcmpv6Checksum } from "./icmpv6.ts";
import { IPPROTO_ICMPV6 } from "./ipv4.ts";
import { IPV6_HEADER_LENGTH } from "./ipv6.ts";

export const ICMPV6_PACKET_TOO_BIG = 2;
/** RFC 8200 5: every link carries 1280-byte packets. */
export const IPV6_MIN_MTU = 1280;
const PTB_HEADER_LENGTH = 8;
/** Bytes of the invoking packet a PTB carries at most (RFC 4443 2.4 (c)). */
export const PTB_MAX_QUOTE = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - PTB_HEADER_LENGTH;

/** Length of the IPv6 packet encodePacketTooBig writes for an invoking packet of this length. */
export function packetTooBigLength(invokingLength: number): number {
  return IPV6_HEADER_LENGTH + PTB_HEADER_LENGTH + Math.min(Math.max(invokingLength, 0), PTB_MAX_QUOTE);
}

/**
 * RFC 4443 2.4 (e): no error message in reply to an ICMPv6 error message, or to a
 * packet whose source does not identify one node (unspecified, multicast). A PTB
 * is allowed for multicast destinations (e.2/e.3 exceptions). An ICMPv6 error
 * behind extension headers is not looked for: the MN's kernel never emits one
 * bigger than 1280 bytes, the only size that could be refused.
 */
export function mayAnswerWithPacketTooBig(invoking: Uint8Array): boolean {
  if (invoking.length < IPV6_HEADER_LENGTH || invoking[0]! >>> 4 !== 6) return false;
  if (invoking[8] === 0xff) return false;
  let unspecified = true;
  for (let i = 8; i < 24; i++) if (invoking[i] !== 0) unspecified = false;
  if (unspecified) return false;
  if (invoking[6] === IPPROTO_ICMPV6 && invoking.length > IPV6_HEADER_LENGTH && invoking[IPV6_HEADER_LENGTH]! < 128) return false;
  return true;
}

/**
 * Writes the IPv6 packet (header, ICMPv6 PTB with its checksum, the quote) at
 * out[offset], from `src` to the invoking packet's source; returns its length.
 */
export function encodePacketTooBig(out: Uint8Array, offset: number, src: Uint8Array, mtu: number, invoking: Uint8Array, hopLimit = 64): number {
  if (invoking.length < IPV6_HEADER_LENGTH) throw new RangeError("the invoking packet needs an IPv6 header");
  if (!Number.isInteger(mtu) || mtu < 0 || mtu > 0xffffffff) throw new RangeError("MTU is a 32-bit unsigned value");
  const quote = Math.min(invoking.length, PTB_MAX_QUOTE);
  const length = IPV6_HEADER_LENGTH + PTB_HEADER_LENGTH + quote;
  if (offset < 0 || out.length - offset < length) throw new RangeError("Packet Too Big does not fit");
  const payload = PTB_HEADER_LENGTH + quote;
  const icmp = offset + IPV6_HEADER_LENGTH;
  // Quote first: `invoking` may be a view that the header bytes would otherwise overwrite.
  out.set(invoking.subarray(0, quote), icmp + PTB_HEADER_LENGTH);
  out[offset] = 0x60;
  out[offset + 1] = 0;
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  out[offset + 4] = payload >>> 8;
  out[offset + 5] = payload;
  out[offset + 6] = IPPROTO_ICMPV6;
  out[offset + 7] = hopLimit;
  out.set(src.subarray(0, 16), offset + 8);
  out.set(out.subarray(icmp + PTB_HEADER_LENGTH + 8, icmp + PTB_HEADER_LENGTH + 24), offset + 24);
  out[icmp] = ICMPV6_PACKET_TOO_BIG;
  out[icmp + 1] = 0;
  out[icmp + 2] = 0;
  out[icmp + 3] = 0;
  out[icmp + 4] = mtu >>> 24;
  out[icmp + 5] = mtu >>> 16;
  out[icmp + 6] = mtu >>> 8;
  out[icmp + 7] = mtu;
  writeIcmpv6Checksum(out, icmp, offset + length, out.subarray(offset + 8, offset + 24), out.subarray(offset + 24, offset + 40));
  return length;
}
