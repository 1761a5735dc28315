// The userspace datapath backend: bridges every packet through the engine, in
// batches (AF_PACKET on the access link, raw protocol 41/47 sockets on the uplink).
// bind/unbind only record the state a kernel fast path programs.
//
// Tunnel MTU (RFC 4213 3.2, 3.4; README "Tunnel MTU"): the raw socket never fragments,
// so the userspace backend does. DF clear (the default): an outer packet bigger than
// the path MTU towards the HA is cut into IPv4 fragments in the send batch. DF set:
// an IPv6 packet bigger than the tunnel MTU (path MTU - outer header, at least 1280)
// is answered with ICMPv6 Packet Too Big towards the MN instead (rate-limited per
// MN). ICMPv4 "fragmentation needed" about our tunnel packets lowers the path MTU
// for that HA (tunnel-mtu.ts).
import type { TunnelTarget } from "../core/events.ts";
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_IPV6 } from "../wire/ethernet.ts";
import { ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_FRAGMENTATION_NEEDED, parseIcmpv4Error } from "../wire/icmpv4.ts";
import { encodePacketTooBig, mayAnswerWithPacketTooBig, packetTooBigLength } from "../wire/icmpv6-packet-too-big.ts";
import { IPPROTO_GRE, IPPROTO_ICMPV6, IPPROTO_IPV6 } from "../wire/ipv4.ts";
import { ipv4FragmentCount, writeIpv4Fragment } from "../wire/ipv4-fragment.ts";
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { formatMac, parseMac } from "../wire/mac.ts";
import { isForbiddenDecapsulatedSource, parseTunnelPacket, tunnelHeaderLength, writeTunnelHeaders } from "../wire/tunnel.ts";
import { AccessLinkSocket } from "./access-link-socket.ts";
import { systemClock } from "./clock.ts";
import { IcmpErrorSocket } from "./icmp-error-socket.ts";
import { Ipv4Identifications } from "./ipv4-identification.ts";
import { interfaceInfo } from "./network-interface.ts";
import { PacketBatch } from "./packet-batch.ts";
import { TokenBuckets } from "./token-bucket.ts";
import { TunnelMtuTable, tunnelSendDecision } from "./tunnel-mtu.ts";
import { TunnelProtocol, TunnelSocket } from "./tunnel-socket.ts";

import type { Datapath, DatapathHandlers, DatapathStats, OuterHeaderOptions, UserspaceDatapathOptions } from "./datapath.ts";

/** Packet Too Big per MN: a burst of 10, then 10 a second (RFC 4443 2.4 (f)). */
export const PTB_BURST = 10;
export const PTB_PER_SECOND = 10;
const ICMP_ROUTER_ADVERTISEMENT = 134;

/** An ICMPv4 error from the core about one of our tunnel packets (for the log: RFC 4213 3.4). */
/** The router an MN learned from its RA: IPv6 source and Ethernet source of that RA (the PTB's sender). */
interface LearnedRouter {
  readonly ip: Uint8Array;
  readonly mac: Uint8Array;
}

export class UserspaceDatapath implements Datapath {
  private readonly access: AccessLinkSocket;
  private readonly tunnels: Map<number, TunnelSocket>;
  /** Outbound batches: packets are written into slots in place, sent with sendmmsg. */
  private readonly toAccess: PacketBatch;
  private readonly toTunnels: Map<number, PacketBatch>;
  private outer: OuterHeaderOptions;
  private readonly bindings = new Map<string, TunnelTarget>();
  /** HAs of bound MNs (reference counts): ICMPv4 errors about other destinations are not ours. */
  private readonly homeAgents = new Map<number, number>();
  private readonly routers = new Map<string, LearnedRouter>();
  private readonly mtu: TunnelMtuTable;
  private readonly ids = new Ipv4Identifications();
  private readonly ptbLimit = new TokenBuckets<string>(PTB_BURST, PTB_PER_SECOND);
  private readonly now: () => number;
  private readonly accessMtu: number;
  private counts = { tunnelRxMalformed: 0, tunnelRxForbiddenSource: 0, txOversize: 0, txDroppedWouldBlock: 0 };
  private m = {
    fragmented: 0,
    fragments: 0,
    tooBig: 0,
    packetTooBigSent: 0,
    packetTooBigRateLimited: 0,
    packetTooBigSuppressed: 0,
    icmpErrors: 0,
    icmpFragmentationNeeded: 0,
    pathMtuLowered: 0,
    icmpIgnored: 0,
    toMnTooBig: 0,
  };

  private constructor(
    access: AccessLinkSocket,
    tunnels: Map<number, TunnelSocket>,
    private readonly icmp: IcmpErrorSocket | null,
    uplinkMtu: number,
    options: UserspaceDatapathOptions,
  ) {
    this.access = access;
    this.tunnels = tunnels;
    this.outer = { ttl: options.ttl, dontFragment: options.dontFragment };
    this.now = options.now ?? systemClock.monotonicMs;
    this.mtu = new TunnelMtuTable(uplinkMtu);
    this.accessMtu = access.link.mtu;
    const capacity = options.batchSize ?? 64;
    this.toAccess = new PacketBatch(capacity, access.batch.slotSize);
    // Largest inner packet the access link can carry, plus the biggest outer header (GRE with key):
    // the whole packet is built in one slot, then fragmented into the slots after it.
    const tunnelSlot = access.batch.slotSize + 28;
    this.toTunnels = new Map([...tunnels.keys()].map((p) => [p, new PacketBatch(capacity, tunnelSlot)]));
  }

  /** Opens the access packet socket and the protocol 41 and 47 raw sockets (bound to the uplink). */
  static open(options: UserspaceDatapathOptions): UserspaceDatapath {
    const access = AccessLinkSocket.open(options.accessInterface, {
      promiscuous: options.promiscuous,
      batchSize: options.batchSize ?? 64,
      afterTc: options.afterTc ?? false,
      receiveBufferBytes: options.accessReceiveBufferBytes ?? 0,
    });
    const tunnels = new Map<number, TunnelSocket>();
    let icmp: IcmpErrorSocket | null = null;
    let uplinkMtu: number;
    try {
      // Read once at start (interface changes need a restart, as for the other interface facts).
      const uplink = interfaceInfo(options.uplinkInterface).mtu;
      uplinkMtu = options.uplinkMtu === undefined ? uplink : Math.min(options.uplinkMtu, uplink);
      for (const p of [TunnelProtocol.ipv6InIpv4, TunnelProtocol.gre]) {
        tunnels.set(p, TunnelSocket.open(p, { interface: options.uplinkInterface, batchSize: options.batchSize ?? 64 }));
      }
      icmp = IcmpErrorSocket.open({ interface: options.uplinkInterface });
    } catch (error) {
      access.close();
      for (const t of tunnels.values()) t.close();
      icmp?.close();
      throw error;
    }
    return new UserspaceDatapath(access, tunnels, icmp, uplinkMtu, options);
  }

  get accessMac(): Uint8Array | null {
    return this.access.link.mac;
  }

  start(h: DatapathHandlers): void {
    this.access.onBatch(
      (batch) => {
        for (let i = 0; i < batch.count; i++) h.frameFromMn(batch.packet(i));
        h.batchDone();
      },
      (error, stopped) => h.ioError(`access ${this.access.name}`, error, stopped),
    );
    for (const [protocol, socket] of this.tunnels) {
      socket.onBatch(
        (batch) => {
          for (let i = 0; i < batch.count; i++) this.onTunnelPacket(batch.packet(i), h);
          h.batchDone();
        },
        (error, stopped) => h.ioError(`tunnel protocol ${protocol}`, error, stopped),
      );
    }
    this.icmp?.onBatch(
      (batch) => {
        for (let i = 0; i < batch.count; i++) this.onIcmpError(batch.packet(i), h);
      },
      // Losing it costs only the PMTU reports: logged, never fatal.
      (error) => h.ioError("icmp errors", error, false),
    );
  }

  /** RFC 4213 3.4: an ICMPv4 error about one of our tunnel packets. */
  private onIcmpError(p: Uint8Array, h: DatapathHandlers): void {
    const r = parseIcmpv4Error(p);
    if (!r.ok) {
      this.m.icmpIgnored++;
      return;
    }
    const e = r.value;
    const q = e.quoted;
    // Only errors about packets we send: tunnel protocol, towards the HA of a bound MN.
    if ((q.protocol !== IPPROTO_IPV6 && q.protocol !== IPPROTO_GRE) || !this.homeAgents.has(q.dst)) {
      this.m.icmpIgnored++;
      return;
    }
    this.m.icmpErrors++;
    let pathMtu: number | null = null;
    if (e.type === ICMPV4_DESTINATION_UNREACHABLE && e.code === ICMPV4_FRAGMENTATION_NEEDED) {
      this.m.icmpFragmentationNeeded++;
      // A DF-clear packet cannot cause it (RFC 5927 5.2: check what can be checked).
      if (q.dontFragment) pathMtu = this.mtu.lower(q.dst, e.nextHopMtu, q.totalLength, this.now());
      if (pathMtu !== null) this.m.pathMtuLowered++;
    }
    h.tunnelIcmpError?.({ from: formatIpv4(e.from), homeAgent: formatIpv4(q.dst), type: e.type, code: e.code, pathMtu });
  }

  private onTunnelPacket(p: Uint8Array, h: DatapathHandlers): void {
    const parsed = parseTunnelPacket(p);
    if (!parsed.ok) {
      this.counts.tunnelRxMalformed++;
      h.tunnelPacketDropped(`malformed tunnel packet: ${parsed.error.kind}`);
      return;
    }
    const t = parsed.value;
    // RFC 4213 3.6: such inner sources are discarded after decapsulation.
    if (isForbiddenDecapsulatedSource(p, t.innerOffset + 8)) {
      this.counts.tunnelRxForbiddenSource++;
      h.tunnelPacketDropped("forbidden inner IPv6 source (RFC 4213 3.6)");
      return;
    }
    h.tunnelPacket(t.src, t.dst, t.key, p.subarray(t.innerOffset, t.innerOffset + t.innerLength));
  }

  toTunnel(tunnel: TunnelTarget, packet: Uint8Array, mn?: string): void {
    const gre = tunnel.greKey === null ? null : { key: tunnel.greKey };
    const protocol = gre === null ? TunnelProtocol.ipv6InIpv4 : TunnelProtocol.gre;
    const b = this.toTunnels.get(protocol)!;
    const hdr = tunnelHeaderLength({ gre });
    const total = hdr + packet.length;
    const ha = tunnel.homeAgent;
    const pmtu = this.mtu.size === 0 ? this.mtu.uplinkMtu : this.mtu.pathMtu(ha, this.now());
    const d = tunnelSendDecision(packet.length, hdr, pmtu, this.outer.dontFragment);
    if (d.kind === "too-big") {
      this.packetTooBig(mn, packet, d.mtu);
      return;
    }
    const dontFragment = d.dontFragment;
    if (total > b.slotSize) {
      this.counts.txOversize++;
      return;
    }
    if (b.count >= b.capacity) this.flushOne(this.tunnels.get(protocol)!, b);
    const at = b.offset(b.count);
    b.bytes.set(packet, at + hdr);
    // DF-set (atomic) packets: identification 0, the kernel fills one in; others get ours (RFC 6864).
    const identification = dontFragment ? 0 : this.ids.take(ha);
    writeTunnelHeaders(b.bytes, at, { src: tunnel.careOf, dst: tunnel.homeAgent, ttl: this.outer.ttl, dontFragment, identification, gre }, packet.length);
    if (!d.fragment) {
      b.lengths[b.count] = total;
      b.count++;
      return;
    }
    this.fragmentInBatch(protocol, b, pmtu);
  }

  /** The packet in slot b.count is above the path MTU: cut it into the slots from there on. */
  private fragmentInBatch(protocol: number, b: PacketBatch, pmtu: number): void {
    let at = b.offset(b.count);
    const n = ipv4FragmentCount(b.bytes, at, pmtu);
    if (n > b.capacity) {
      this.counts.txOversize++;
      return;
    }
    if (b.count + n > b.capacity) {
      // Move the built packet to slot 0 of an emptied batch.
      const whole = b.bytes.slice(at, at + ((b.bytes[at + 2]! << 8) | b.bytes[at + 3]!));
      this.flushOne(this.tunnels.get(protocol)!, b);
      at = b.offset(0);
      b.bytes.set(whole, at);
    }
    for (let k = n - 1; k >= 0; k--) b.lengths[b.count + k] = writeIpv4Fragment(b.bytes, at, pmtu, k, b.bytes, b.offset(b.count + k));
    b.count += n;
    this.m.fragmented++;
    this.m.fragments += n;
  }

  /** RFC 4213 3.2.2 with DF set: the MN learns the tunnel MTU; the packet is not sent. */
  private packetTooBig(mn: string | undefined, invoking: Uint8Array, linkMtu: number): void {
    this.m.tooBig++;
    const mnMac = mn === undefined ? null : parseMac(mn);
    if (mnMac === null || mn === undefined || !mayAnswerWithPacketTooBig(invoking)) {
      this.m.packetTooBigSuppressed++;
      return;
    }
    if (!this.ptbLimit.take(mn, this.now())) {
      this.m.packetTooBigRateLimited++;
      return;
    }
    // From the MN's router as its RA showed it (the MN sees the tunnel as the link to that
    // router); before any RA, from the AN's own link-local (EUI-64 of the access MAC).
    const router = this.routers.get(mn);
    const l2src = router?.mac ?? this.access.link.mac;
    if (!l2src) {
      this.m.packetTooBigSuppressed++;
      return;
    }
    const src = router?.ip ?? linkLocalOf(l2src);
    const b = this.toAccess;
    if (ETHERNET_HEADER_LENGTH + packetTooBigLength(invoking.length) > b.slotSize) {
      this.m.packetTooBigSuppressed++;
      return;
    }
    if (b.count >= b.capacity) this.flushOne(this.access, b);
    const at = b.offset(b.count);
    writeEthernetHeader(b.bytes, at, mnMac, l2src);
    b.lengths[b.count] = ETHERNET_HEADER_LENGTH + encodePacketTooBig(b.bytes, at + ETHERNET_HEADER_LENGTH, src, linkMtu, invoking);
    b.count++;
    this.m.packetTooBigSent++;
  }

  toMn(dst: Uint8Array, src: Uint8Array, packet: Uint8Array): void {
    const b = this.toAccess;
    if (packet.length > this.accessMtu) {
      // A bridge drops what its port cannot carry (IEEE 802.1D); the HA's tunnel MTU is too big.
      this.m.toMnTooBig++;
      return;
    }
    if (ETHERNET_HEADER_LENGTH + packet.length > b.slotSize) {
      this.counts.txOversize++;
      return;
    }
    if (packet.length >= 48 && packet[6] === IPPROTO_ICMPV6 && packet[40] === ICMP_ROUTER_ADVERTISEMENT) this.learnRouter(dst, src, packet);
    if (b.count >= b.capacity) this.flushOne(this.access, b);
    const at = b.offset(b.count);
    b.bytes.set(dst.subarray(0, 6), at);
    b.bytes.set(src.subarray(0, 6), at + 6);
    b.bytes[at + 12] = ETHERTYPE_IPV6 >>> 8;
    b.bytes[at + 13] = ETHERTYPE_IPV6 & 0xff;
    b.bytes.set(packet, at + ETHERNET_HEADER_LENGTH);
    b.lengths[b.count] = ETHERNET_HEADER_LENGTH + packet.length;
    b.count++;
  }

  /** The RA's source (link-local) and Ethernet source, for this MN's Packet Too Big messages. */
  private learnRouter(dst: Uint8Array, src: Uint8Array, ra: Uint8Array): void {
    const mn = formatMac(dst);
    const known = this.routers.get(mn);
    if (known && sameBytes(known.ip, ra.subarray(8, 24)) && sameBytes(known.mac, src.subarray(0, 6))) return;
    // Entries go at unbind; the engine sends RAs only to its sessions. A bound against leaks all the same.
    if (this.routers.size >= 65536) this.routers.clear();
    this.routers.set(mn, { ip: ra.slice(8, 24), mac: src.slice(0, 6) });
  }

  /**
   * The smallest path MTU towards any bound HA now (the uplink MTU when none is
   * lowered). A kernel fast path in front of this backend sends nothing bigger, so
   * every packet that a lowered path cannot carry reaches the per-HA decision here.
   */
  lowestPathMtu(): number {
    const now = this.now();
    let lowest = this.mtu.uplinkMtu;
    for (const ha of this.homeAgents.keys()) lowest = Math.min(lowest, this.mtu.pathMtu(ha, now));
    return lowest;
  }

  bind(mac: string, tunnel: TunnelTarget, _downlinkKey: number | null): void {
    const old = this.bindings.get(mac);
    if (old) this.releaseHomeAgent(old.homeAgent);
    this.bindings.set(mac, tunnel);
    this.homeAgents.set(tunnel.homeAgent, (this.homeAgents.get(tunnel.homeAgent) ?? 0) + 1);
  }

  unbind(mac: string): void {
    const old = this.bindings.get(mac);
    if (old) this.releaseHomeAgent(old.homeAgent);
    this.bindings.delete(mac);
    this.routers.delete(mac);
    this.ptbLimit.forget(mac);
  }

  private releaseHomeAgent(ha: number): void {
    const n = (this.homeAgents.get(ha) ?? 0) - 1;
    if (n > 0) this.homeAgents.set(ha, n);
    else this.homeAgents.delete(ha);
  }

  flush(): void {
    this.flushOne(this.access, this.toAccess);
    for (const [p, b] of this.toTunnels) this.flushOne(this.tunnels.get(p)!, b);
  }

  private flushOne(socket: AccessLinkSocket | TunnelSocket, b: PacketBatch): void {
    if (b.count === 0) return;
    let sent = 0;
    try {
      sent = socket.sendBatch(b, b.count, 0);
    } catch {
      sent = 0;
    }
    // Would block: the socket buffer is full. Packet loss is what a full link does; count it.
    if (sent < b.count) this.counts.txDroppedWouldBlock += b.count - sent;
    b.clear();
  }

  setOuterHeader(options: OuterHeaderOptions): void {
    this.outer = { ttl: options.ttl, dontFragment: options.dontFragment };
  }

  stats(): DatapathStats {
    const a = this.access.stats();
    let tunnelRx = 0;
    let tunnelRxTruncated = 0;
    let tunnelTx = 0;
    let tunnelTxErrors = 0;
    let lastTunnelTxError: string | null = null;
    for (const t of this.tunnels.values()) {
      const s = t.stats();
      tunnelRx += s.rxPackets;
      tunnelRxTruncated += s.rxTruncated;
      tunnelTx += s.txPackets;
      tunnelTxErrors += s.txErrors;
      lastTunnelTxError = s.lastTxError ?? lastTunnelTxError;
    }
    return {
      accessRx: a.rxPackets,
      accessRxTruncated: a.rxTruncated,
      accessKernelDrops: a.kernelDrops,
      accessTx: a.txPackets,
      accessTxErrors: a.txErrors,
      tunnelRx,
      tunnelRxTruncated,
      tunnelRxMalformed: this.counts.tunnelRxMalformed,
      tunnelRxForbiddenSource: this.counts.tunnelRxForbiddenSource,
      tunnelTx,
      tunnelTxErrors,
      lastTunnelTxError,
      txOversize: this.counts.txOversize,
      txDroppedWouldBlock: this.counts.txDroppedWouldBlock,
      bound: this.bindings.size,
      mtu: { uplinkMtu: this.mtu.uplinkMtu, loweredPaths: this.mtu.size, ...this.m },
      backend: "userspace",
    };
  }

  close(): void {
    this.flush();
    this.access.close();
    for (const t of this.tunnels.values()) t.close();
    this.icmp?.close();
  }
}

function writeEthernetHeader(out: Uint8Array, at: number, dst: Uint8Array, src: Uint8Array): void {
  out.set(dst.subarray(0, 6), at);
  out.set(src.subarray(0, 6), at + 6);
  out[at + 12] = ETHERTYPE_IPV6 >>> 8;
  out[at + 13] = ETHERTYPE_IPV6 & 0xff;
}

/** fe80::/64 with the modified EUI-64 interface identifier of `mac` (RFC 4291 appendix A). */
function linkLocalOf(mac: Uint8Array): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xfe;
  a[1] = 0x80;
  a[8] = mac[0]! ^ 0x02;
  a[9] = mac[1]!;
  a[10] = mac[2]!;
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = mac[3]!;
  a[14] = mac[4]!;
  a[15] = mac[5]!;
  return a;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
