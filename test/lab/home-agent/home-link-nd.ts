// The Neighbor Discovery the home agent sends down a tunnel as the MN's default
// router on the home link (draft 3.2.2 steps 6 and 11, 3.2.4, 5.5.4): Router
// Advertisements and Neighbor Advertisements, as whole inner IPv6 packets.
import { IPPROTO_ICMPV6 } from "../../../src/wire/ipv4.ts";
import { encodeIpv6Header, IPV6_HEADER_LENGTH } from "../../../src/wire/ipv6.ts";
import { ALL_NODES_MULTICAST } from "../../../src/wire/ipv6-address.ts";
import type { NdMessage } from "../../../src/wire/ndisc.ts";
import { encodeNd, ND_HOP_LIMIT, ndEncodedLength } from "../../../src/wire/ndisc.ts";

/** An IPv6 packet (hop limit 255) carrying one ND message, checksummed. */
export function ndPacket(m: NdMessage, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const len = ndEncodedLength(m);
  const out = new Uint8Array(IPV6_HEADER_LENGTH + len);
  encodeIpv6Header({ trafficClass: 0, flowLabel: 0, payloadLength: len, nextHeader: IPPROTO_ICMPV6, hopLimit: ND_HOP_LIMIT, src, dst }, out, 0);
  encodeNd(m, out, IPV6_HEADER_LENGTH, src, dst);
  return out;
}

export interface RaParameters {
  readonly linkLocal: Uint8Array;
  readonly mac: Uint8Array;
  readonly prefix: Uint8Array;
  /** null: no MTU option (the MN keeps its link's MTU). */
  readonly mtu: number | null;
  readonly curHopLimit: number;
  readonly routerLifetimeS: number;
  readonly validLifetimeS: number;
  readonly preferredLifetimeS: number;
}

/**
 * The RA to all-nodes: SLLA (the HA's home-link MAC, which the AN learns as the
 * downlink source, draft 5.2.2), MTU sized for the tunnel, and the home prefix
 * with A=1 and L=0: the MN autoconfigures its home address but treats no other
 * address as on-link, so everything it sends goes to the router (the HA).
 */
export function routerAdvertisement(p: RaParameters): Uint8Array {
  return ndPacket(
    {
      kind: "ra",
      curHopLimit: p.curHopLimit,
      managed: false,
      other: false,
      reservedFlags: 0,
      routerLifetime: p.routerLifetimeS,
      reachableTime: 0,
      retransTimer: 0,
      options: [
        { kind: "slla", address: p.mac },
        ...(p.mtu === null ? [] : [{ kind: "mtu" as const, mtu: p.mtu }]),
        {
          kind: "prefix-info",
          prefixLength: 64,
          onLink: false,
          autonomous: true,
          reservedFlags: 0,
          validLifetime: p.validLifetimeS,
          preferredLifetime: p.preferredLifetimeS,
          prefix: p.prefix,
        },
      ],
    },
    p.linkLocal,
    ALL_NODES_MULTICAST,
  );
}

/** Solicited NA for one of the HA's own addresses (RFC 4861 7.2.4): R, S, O set, with TLLA. */
export function solicitedAdvertisement(target: Uint8Array, to: Uint8Array, mac: Uint8Array): Uint8Array {
  return ndPacket({ kind: "na", router: true, solicited: true, override: true, target, options: [{ kind: "tlla", address: mac }] }, target, to);
}

/**
 * The NA defending an address a DAD probe asked about (RFC 4861 7.2.4: a probe from
 * :: is answered to all-nodes with S clear): the address belongs to another node of
 * the home link, so R is clear; O set; TLLA the HA's MAC (it proxies that node).
 */
export function dadDefence(target: Uint8Array, from: Uint8Array, mac: Uint8Array): Uint8Array {
  return ndPacket(
    { kind: "na", router: false, solicited: false, override: true, target, options: [{ kind: "tlla", address: mac }] },
    from,
    ALL_NODES_MULTICAST,
  );
}
