// The datapath (DESIGN.md 2: an interface, userspace backend first): frames from
// the access link go to the engine; the engine's to-tunnel and to-mn actions come
// back here and leave in batches. The userspace backend bridges every packet
// through the engine, so bind/unbind only record the state a kernel fast path
// (tc-BPF) would program; they are part of the interface for that later backend.
import type { TunnelTarget } from "../core/events.ts";
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_IPV6 } from "../wire/ethernet.ts";
import { isForbiddenDecapsulatedSource, parseTunnelPacket, tunnelHeaderLength, writeTunnelHeaders } from "../wire/tunnel.ts";
import { AccessLinkSocket } from "./access-link-socket.ts";
import type { NativeIoError } from "./native-addon.ts";
import { PacketBatch } from "./packet-batch.ts";
import { TunnelProtocol, TunnelSocket } from "./tunnel-socket.ts";

export interface DatapathHandlers {
  /** An Ethernet frame from the access link (a view: valid during the call only). */
  frameFromMn(frame: Uint8Array): void;
  /** A decapsulated packet from a tunnel (a view: valid during the call only). */
  tunnelPacket(outerSrc: number, outerDst: number, greKey: number | null, packet: Uint8Array): void;
  /** A tunnel packet that failed validation: counted here, reported for logging. */
  tunnelPacketDropped(cause: string): void;
  /** The end of one receive batch: flush what the handlers queued. */
  batchDone(): void;
  ioError(where: string, error: NativeIoError, stopped: boolean): void;
  /** MNs whose frames the kernel fast path carried since the last report (the engine never saw them). */
  sessionsActive?(macs: readonly string[]): void;
}

export interface OuterHeaderOptions {
  readonly ttl: number;
  readonly dontFragment: boolean;
}

export interface DatapathStats {
  readonly accessRx: number;
  readonly accessRxTruncated: number;
  readonly accessKernelDrops: number;
  readonly accessTx: number;
  readonly accessTxErrors: number;
  readonly tunnelRx: number;
  readonly tunnelRxTruncated: number;
  readonly tunnelRxMalformed: number;
  readonly tunnelRxForbiddenSource: number;
  readonly tunnelTx: number;
  /** refused by the kernel one by one, e.g. EMSGSIZE above the uplink MTU */
  readonly tunnelTxErrors: number;
  readonly lastTunnelTxError: string | null;
  /** packets that could not be queued: bigger than a send slot */
  readonly txOversize: number;
  /** packets dropped because the kernel would block (socket buffer full) */
  readonly txDroppedWouldBlock: number;
  readonly bound: number;
  /** "kernel" or "userspace" */
  readonly backend?: string;
  /** the kernel fast path's counters (kernel backend only) */
  readonly fastPath?: FastPathStats;
}

export interface FastPathStats {
  /** "tcx" (links released with the process) or "tc" (clsact filters) */
  readonly attach?: string;
  readonly uplinkPackets: number;
  readonly uplinkBytes: number;
  readonly downlinkPackets: number;
  readonly downlinkBytes: number;
  /** why frames stayed on the slow path, and failures (src/bpf/an_fastpath.bpf.c enum fp_stat) */
  readonly slow: Readonly<Record<string, number>>;
  /** per bound session (up to a limit): packets and bytes each way */
  readonly sessions?: Readonly<Record<string, { readonly up: readonly [number, number]; readonly down: readonly [number, number] }>>;
}

export interface Datapath {
  start(handlers: DatapathHandlers): void;
  /** Queues an IPv6 packet for the MN's tunnel (outer IPv4, GRE when keyed). */
  toTunnel(tunnel: TunnelTarget, packet: Uint8Array): void;
  /** Queues an IPv6 packet for the MN with this Ethernet header. */
  toMn(dst: Uint8Array, src: Uint8Array, packet: Uint8Array): void;
  bind(mac: string, tunnel: TunnelTarget, downlinkKey: number | null): void;
  unbind(mac: string): void;
  /** Sends everything queued. */
  flush(): void;
  setOuterHeader(options: OuterHeaderOptions): void;
  readonly accessMac: Uint8Array | null;
  stats(): DatapathStats;
  close(): void;
}

export interface UserspaceDatapathOptions extends OuterHeaderOptions {
  readonly accessInterface: string;
  readonly uplinkInterface: string;
  readonly promiscuous: boolean;
  readonly batchSize?: number;
  /** the kernel fast path is in front: read the access link after tc ingress (see PacketOpenOptions.afterTc) */
  readonly afterTc?: boolean;
}

export class UserspaceDatapath implements Datapath {
  private readonly access: AccessLinkSocket;
  private readonly tunnels: Map<number, TunnelSocket>;
  /** Outbound batches: packets are written into slots in place, sent with sendmmsg. */
  private readonly toAccess: PacketBatch;
  private readonly toTunnels: Map<number, PacketBatch>;
  private outer: OuterHeaderOptions;
  private readonly bindings = new Map<string, TunnelTarget>();
  private counts = { tunnelRxMalformed: 0, tunnelRxForbiddenSource: 0, txOversize: 0, txDroppedWouldBlock: 0 };

  private constructor(access: AccessLinkSocket, tunnels: Map<number, TunnelSocket>, options: UserspaceDatapathOptions) {
    this.access = access;
    this.tunnels = tunnels;
    this.outer = { ttl: options.ttl, dontFragment: options.dontFragment };
    const capacity = options.batchSize ?? 64;
    this.toAccess = new PacketBatch(capacity, access.batch.slotSize);
    // Largest inner packet the access link can carry, plus the biggest outer header (GRE with key).
    const tunnelSlot = access.batch.slotSize + 28;
    this.toTunnels = new Map([...tunnels.keys()].map((p) => [p, new PacketBatch(capacity, tunnelSlot)]));
  }

  /** Opens the access packet socket and the protocol 41 and 47 raw sockets (bound to the uplink). */
  static open(options: UserspaceDatapathOptions): UserspaceDatapath {
    const access = AccessLinkSocket.open(options.accessInterface, {
      promiscuous: options.promiscuous,
      batchSize: options.batchSize ?? 64,
      afterTc: options.afterTc ?? false,
    });
    const tunnels = new Map<number, TunnelSocket>();
    try {
      for (const p of [TunnelProtocol.ipv6InIpv4, TunnelProtocol.gre]) {
        tunnels.set(p, TunnelSocket.open(p, { interface: options.uplinkInterface, batchSize: options.batchSize ?? 64 }));
      }
    } catch (error) {
      access.close();
      for (const t of tunnels.values()) t.close();
      throw error;
    }
    return new UserspaceDatapath(access, tunnels, options);
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

  toTunnel(tunnel: TunnelTarget, packet: Uint8Array): void {
    const gre = tunnel.greKey === null ? null : { key: tunnel.greKey };
    const protocol = gre === null ? TunnelProtocol.ipv6InIpv4 : TunnelProtocol.gre;
    const b = this.toTunnels.get(protocol)!;
    const hdr = tunnelHeaderLength({ gre });
    if (hdr + packet.length > b.slotSize) {
      this.counts.txOversize++;
      return;
    }
    if (b.count >= b.capacity) this.flushOne(this.tunnels.get(protocol)!, b);
    const at = b.offset(b.count);
    b.bytes.set(packet, at + hdr);
    writeTunnelHeaders(
      b.bytes,
      at,
      { src: tunnel.careOf, dst: tunnel.homeAgent, ttl: this.outer.ttl, dontFragment: this.outer.dontFragment, identification: 0, gre },
      packet.length,
    );
    b.lengths[b.count] = hdr + packet.length;
    b.count++;
  }

  toMn(dst: Uint8Array, src: Uint8Array, packet: Uint8Array): void {
    const b = this.toAccess;
    if (ETHERNET_HEADER_LENGTH + packet.length > b.slotSize) {
      this.counts.txOversize++;
      return;
    }
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

  bind(mac: string, tunnel: TunnelTarget, _downlinkKey: number | null): void {
    this.bindings.set(mac, tunnel);
  }

  unbind(mac: string): void {
    this.bindings.delete(mac);
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
      backend: "userspace",
    };
  }

  close(): void {
    this.flush();
    this.access.close();
    for (const t of this.tunnels.values()) t.close();
  }
}
