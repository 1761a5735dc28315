// Real frames of a Linux IPv6-only MN on the access link, and the inner IPv6
// packets a home agent sends down the tunnel. Everything goes through the wire
// encoders, so lengths and ICMPv6 checksums are right and the engine sees exactly
// what a kernel would put on the air.
import { encodeEthernet, ETHERNET_HEADER_LENGTH, ETHERTYPE_IPV6 } from "../../src/wire/ethernet.ts";
import { writeIcmpv6Checksum } from "../../src/wire/icmpv6.ts";
import { IPPROTO_ICMPV6 } from "../../src/wire/ipv4.ts";
import { encodeIpv6Header, IPV6_HEADER_LENGTH } from "../../src/wire/ipv6.ts";
import {
  ALL_NODES_MULTICAST,
  ALL_ROUTERS_MULTICAST,
  parseIpv6,
  solicitedNodeMulticast,
  UNSPECIFIED_ADDRESS,
  writeIpv6MulticastMac,
} from "../../src/wire/ipv6-address.ts";
import { parseMac } from "../../src/wire/mac.ts";
import type { NdMessage, NdOption } from "../../src/wire/ndisc.ts";
import { encodeNd, ndEncodedLength } from "../../src/wire/ndisc.ts";

export function mac(text: string): Uint8Array {
  const m = parseMac(text);
  if (!m) throw new Error(`bad MAC ${text}`);
  return m;
}

export function ip6(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (!a) throw new Error(`bad IPv6 address ${text}`);
  return a;
}

/** RFC 4291 appendix A: fe80:: plus the modified EUI-64 of the MAC (what Linux uses by default). */
export function linkLocalOf(macBytes: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = macBytes[0]! ^ 0x02;
  a[9] = macBytes[1]!;
  a[10] = macBytes[2]!;
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = macBytes[3]!;
  a[14] = macBytes[4]!;
  a[15] = macBytes[5]!;
  return a;
}

/** The Ethernet destination for an IPv6 multicast address (33:33:...). */
export function multicastMacOf(group: Uint8Array): Uint8Array {
  const out = new Uint8Array(6);
  writeIpv6MulticastMac(group, 0, out, 0);
  return out;
}

export interface Ipv6Fields {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly payload: Uint8Array;
  readonly trafficClass?: number;
  readonly flowLabel?: number;
}

/** An IPv6 packet around a ready payload. */
export function ipv6Packet(f: Ipv6Fields): Uint8Array {
  const out = new Uint8Array(IPV6_HEADER_LENGTH + f.payload.length);
  encodeIpv6Header(
    {
      trafficClass: f.trafficClass ?? 0,
      flowLabel: f.flowLabel ?? 0,
      payloadLength: f.payload.length,
      nextHeader: f.nextHeader,
      hopLimit: f.hopLimit,
      src: f.src,
      dst: f.dst,
    },
    out,
    0,
  );
  out.set(f.payload, IPV6_HEADER_LENGTH);
  return out;
}

/** An IPv6 packet carrying one ND message, checksummed for src/dst. */
export function ndPacket(m: NdMessage, src: Uint8Array, dst: Uint8Array, hopLimit = 255): Uint8Array {
  const len = ndEncodedLength(m);
  const out = new Uint8Array(IPV6_HEADER_LENGTH + len);
  encodeIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: len, nextHeader: IPPROTO_ICMPV6, hopLimit, src, dst }, out, 0);
  encodeNd(m, out, IPV6_HEADER_LENGTH, src, dst);
  return out;
}

/** Ethernet II around an IPv6 packet; `trailer` models link padding after the packet. */
export function ethernetFrame(src: Uint8Array, dst: Uint8Array, packet: Uint8Array, trailer: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(ETHERNET_HEADER_LENGTH + packet.length + trailer.length);
  encodeEthernet({ dst, src, vlan: null, etherType: ETHERTYPE_IPV6 }, out, 0);
  out.set(packet, ETHERNET_HEADER_LENGTH);
  out.set(trailer, ETHERNET_HEADER_LENGTH + packet.length);
  return out;
}

/** The IPv6 packet inside a frame built by ethernetFrame (header and trailer off). */
export function packetOf(frame: Uint8Array): Uint8Array {
  const payloadLength = (frame[ETHERNET_HEADER_LENGTH + 4]! << 8) | frame[ETHERNET_HEADER_LENGTH + 5]!;
  return frame.slice(ETHERNET_HEADER_LENGTH, ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + payloadLength);
}

export interface DadOptions {
  /** Tentative address; default the MN's EUI-64 link-local. */
  readonly target?: Uint8Array;
  /** RFC 7527 nonce (Linux sends 6 bytes). */
  readonly nonce?: Uint8Array;
  readonly hopLimit?: number;
  /** Flip a checksum bit after encoding. */
  readonly badChecksum?: boolean;
  readonly trailer?: Uint8Array;
}

/** The DAD probe of a Linux MN: NS from :: to the solicited-node group of the target, Nonce option, no SLLA. */
export function dadNeighborSolicitation(macBytes: Uint8Array, o: DadOptions = {}): Uint8Array {
  const target = o.target ?? linkLocalOf(macBytes);
  const group = solicitedNodeMulticast(target);
  const nonce = o.nonce ?? Uint8Array.of(0x8a, 0x1f, 0x3c, 0x55, 0x07, 0xe2);
  const packet = ndPacket({ kind: "ns", target, options: [{ kind: "nonce", nonce }] }, UNSPECIFIED_ADDRESS, group, o.hopLimit ?? 255);
  if (o.badChecksum) packet[IPV6_HEADER_LENGTH + 3]! ^= 0x01;
  return ethernetFrame(macBytes, multicastMacOf(group), packet, o.trailer);
}

/** Address resolution NS from the MN's link-local for `target` (e.g. the router), with SLLA. */
export function addressResolutionSolicitation(macBytes: Uint8Array, target: Uint8Array): Uint8Array {
  const src = linkLocalOf(macBytes);
  const group = solicitedNodeMulticast(target);
  const packet = ndPacket({ kind: "ns", target, options: [{ kind: "slla", address: macBytes }] }, src, group);
  return ethernetFrame(macBytes, multicastMacOf(group), packet);
}

/** RS from the MN's link-local to all-routers, with SLLA (as Linux sends once its LLA is valid). */
export function routerSolicitation(macBytes: Uint8Array, o: { readonly fromUnspecified?: boolean } = {}): Uint8Array {
  const src = o.fromUnspecified ? UNSPECIFIED_ADDRESS : linkLocalOf(macBytes);
  const options: NdOption[] = o.fromUnspecified ? [] : [{ kind: "slla", address: macBytes }];
  const packet = ndPacket({ kind: "rs", options }, src, ALL_ROUTERS_MULTICAST);
  return ethernetFrame(macBytes, multicastMacOf(ALL_ROUTERS_MULTICAST), packet);
}

const ALL_MLDV2_ROUTERS = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16);

/**
 * The MLDv2 report Linux sends before its DAD NS (RFC 3810 5.2): from ::, to
 * ff02::16, hop limit 1, behind a Hop-by-Hop header with Router Alert, one
 * CHANGE_TO_EXCLUDE record for the solicited-node group of its link-local.
 */
export function mldReport(macBytes: Uint8Array): Uint8Array {
  const group = solicitedNodeMulticast(linkLocalOf(macBytes));
  const hbh = Uint8Array.of(IPPROTO_ICMPV6, 0, 5, 2, 0, 0, 1, 0);
  const icmp = new Uint8Array(8 + 20);
  icmp[0] = 143; // MLDv2 report
  icmp[7] = 1; // one record
  icmp[8] = 4; // CHANGE_TO_EXCLUDE_MODE
  icmp.set(group, 12);
  writeIcmpv6Checksum(icmp, 0, icmp.length, UNSPECIFIED_ADDRESS, ALL_MLDV2_ROUTERS);
  const payload = new Uint8Array(hbh.length + icmp.length);
  payload.set(hbh, 0);
  payload.set(icmp, hbh.length);
  const packet = ipv6Packet({ src: UNSPECIFIED_ADDRESS, dst: ALL_MLDV2_ROUTERS, nextHeader: 0, hopLimit: 1, payload });
  return ethernetFrame(macBytes, multicastMacOf(ALL_MLDV2_ROUTERS), packet);
}

/** An ICMPv6 echo request from `src` (an address of the MN) to `dst`, checksummed. */
export function echoRequestPacket(src: Uint8Array, dst: Uint8Array, sequence: number, hopLimit = 64): Uint8Array {
  const icmp = new Uint8Array(8 + 16);
  icmp[0] = 128;
  icmp[4] = 0x12;
  icmp[5] = 0x34;
  icmp[6] = sequence >>> 8;
  icmp[7] = sequence;
  for (let i = 8; i < icmp.length; i++) icmp[i] = (i * 7 + sequence) & 0xff;
  writeIcmpv6Checksum(icmp, 0, icmp.length, src, dst);
  return ipv6Packet({ src, dst, nextHeader: IPPROTO_ICMPV6, hopLimit, payload: icmp, flowLabel: 0x5a5a5 });
}

/** A data frame of the MN (echo request) to the router's MAC. */
export function dataFrame(macBytes: Uint8Array, routerMac: Uint8Array, dst: Uint8Array, sequence = 1, trailer?: Uint8Array): Uint8Array {
  return ethernetFrame(macBytes, routerMac, echoRequestPacket(linkLocalOf(macBytes), dst, sequence), trailer);
}

export interface RaOptions {
  /** The HA's link-local (RA source). */
  readonly src: Uint8Array;
  /** Default all-nodes. */
  readonly dst?: Uint8Array;
  /** SLLA option: the HA's link-layer address (draft 5.2.2); omitted when null. */
  readonly slla: Uint8Array | null;
  readonly mtu?: number;
  readonly prefix?: Uint8Array;
  readonly routerLifetime?: number;
}

/** The HA's Router Advertisement, as an inner IPv6 packet of the tunnel. */
export function routerAdvertisementPacket(o: RaOptions): Uint8Array {
  const options: NdOption[] = [];
  if (o.slla !== null) options.push({ kind: "slla", address: o.slla });
  options.push({ kind: "mtu", mtu: o.mtu ?? 1480 });
  options.push({
    kind: "prefix-info",
    prefixLength: 64,
    onLink: true,
    autonomous: true,
    reservedFlags: 0,
    validLifetime: 86400,
    preferredLifetime: 14400,
    prefix: o.prefix ?? ip6("2001:db8:1::"),
  });
  return ndPacket(
    { kind: "ra", curHopLimit: 64, managed: false, other: false, reservedFlags: 0, routerLifetime: o.routerLifetime ?? 1800, reachableTime: 0, retransTimer: 0, options },
    o.src,
    o.dst ?? ALL_NODES_MULTICAST,
  );
}

/** An NA from the HA for `target` (e.g. defending an address the MN probes), as an inner packet. */
export function neighborAdvertisementPacket(o: { readonly src: Uint8Array; readonly dst?: Uint8Array; readonly target: Uint8Array; readonly tlla: Uint8Array | null; readonly solicited?: boolean }): Uint8Array {
  const options: NdOption[] = o.tlla === null ? [] : [{ kind: "tlla", address: o.tlla }];
  return ndPacket(
    { kind: "na", router: true, solicited: o.solicited ?? false, override: true, target: o.target, options },
    o.src,
    o.dst ?? ALL_NODES_MULTICAST,
  );
}
