// What the engine reads from the IPv6 packets it bridges, without changing them:
// on the uplink, the ND that triggers a session and the addresses the MN probes
// (DAD) or uses; on the downlink, the HA's link-layer address in its Router
// Advertisements (draft 5.2.2) and the NAs with which it defends an address.
import { IPV6_HEADER_LENGTH } from "../wire/ipv6.ts";
import { formatIpv6, isUnspecified } from "../wire/ipv6-address.ts";
import {
  classifyFrame,
  FRAME_MALFORMED_IPV6,
  FRAME_NOT_IPV6,
  ND_NEIGHBOR_ADVERTISEMENT,
  ND_NEIGHBOR_SOLICITATION,
  ND_ROUTER_ADVERTISEMENT,
  ND_ROUTER_SOLICITATION,
  parseNdPacket,
} from "../wire/ndisc.ts";

export type UplinkView =
  | { readonly kind: "malformed" }
  /** dadTarget: the tentative address of a DAD probe (unspecified source); source: the sender's address. */
  | { readonly kind: "neighbor-solicitation"; readonly dadTarget: string | null; readonly source: string | null; readonly packetLength: number }
  | { readonly kind: "router-solicitation"; readonly source: string | null; readonly packetLength: number }
  | { readonly kind: "other"; readonly source: null; readonly packetLength: number };

/** `frame` is an Ethernet frame whose IPv6 packet starts at `ipOffset`. */
export function inspectUplink(frame: Uint8Array, ipOffset: number): UplinkView {
  const c = classifyFrame(frame);
  if (c === FRAME_MALFORMED_IPV6 || c === FRAME_NOT_IPV6) return { kind: "malformed" };
  // Link padding after the IPv6 packet is not part of it and must not enter the tunnel.
  const packetLength = IPV6_HEADER_LENGTH + ((frame[ipOffset + 4]! << 8) | frame[ipOffset + 5]!);
  if (c !== ND_NEIGHBOR_SOLICITATION && c !== ND_ROUTER_SOLICITATION) return { kind: "other", source: null, packetLength };
  const nd = parseNdPacket(frame, ipOffset);
  // An ND message failing RFC 4861 validation (hop limit, checksum, options) is
  // discarded by every receiver; it must not start a session either.
  if (!nd.ok) return { kind: "malformed" };
  const { ip, message } = nd.value;
  const source = isUnspecified(ip.src) ? null : formatIpv6(ip.src);
  if (message.kind === "ns") {
    return { kind: "neighbor-solicitation", dadTarget: source === null ? formatIpv6(message.target) : null, source, packetLength };
  }
  return { kind: "router-solicitation", source, packetLength };
}

export type DownlinkView =
  | { readonly kind: "malformed" }
  | { readonly kind: "router-advertisement"; readonly sourceLinkLayer: Uint8Array | null }
  | { readonly kind: "neighbor-advertisement"; readonly target: string | null }
  | { readonly kind: "other" };

/** `packet` is an inner IPv6 packet from the tunnel. */
export function inspectDownlink(packet: Uint8Array): DownlinkView {
  if (packet.length < IPV6_HEADER_LENGTH || packet[0]! >>> 4 !== 6) return { kind: "malformed" };
  const payloadLength = (packet[4]! << 8) | packet[5]!;
  if (payloadLength > packet.length - IPV6_HEADER_LENGTH) return { kind: "malformed" };
  if (packet[6] !== 58 || payloadLength < 4) return { kind: "other" };
  const type = packet[IPV6_HEADER_LENGTH];
  if (type !== ND_ROUTER_ADVERTISEMENT && type !== ND_NEIGHBOR_ADVERTISEMENT) return { kind: "other" };
  const nd = parseNdPacket(packet, 0);
  // Forwarded untouched either way; the MN judges it. We only refuse to learn from it.
  if (!nd.ok) return { kind: "other" };
  const m = nd.value.message;
  if (m.kind === "ra") {
    const slla = m.options.find((o) => o.kind === "slla");
    return { kind: "router-advertisement", sourceLinkLayer: slla && slla.address.length === 6 ? slla.address : null };
  }
  if (m.kind === "na") return { kind: "neighbor-advertisement", target: formatIpv6(m.target) };
  return { kind: "other" };
}
