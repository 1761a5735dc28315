// The datapath (DESIGN.md 2 and 8): the interface every backend implements, and
// what it reports. Frames from the access link go to the engine; the engine's
// to-tunnel and to-mn actions come back here and leave in batches. Backends: the
// userspace one (userspace-datapath.ts: every packet through the engine) and the
// kernel fast path (kernel-datapath.ts: tc-BPF for bound sessions, the userspace
// one as its slow path).
import type { TunnelTarget } from "../core/events.ts";
import type { NativeIoError } from "./native-addon.ts";

export interface TunnelIcmpReport {
  readonly from: string;
  readonly homeAgent: string;
  readonly type: number;
  readonly code: number;
  /** Set when a "fragmentation needed" lowered the path MTU towards that HA. */
  readonly pathMtu: number | null;
}

export interface DatapathHandlers {
  /** An Ethernet frame from the access link (a view: valid during the call only). */
  frameFromMn(frame: Uint8Array): void;
  /** A decapsulated packet from a tunnel (a view: valid during the call only). */
  tunnelPacket(outerSrc: number, outerDst: number, greKey: number | null, packet: Uint8Array): void;
  /** A tunnel packet that failed validation: counted here, reported for logging. */
  tunnelPacketDropped(cause: string): void;
  /** Optional: an ICMPv4 error about a tunnel packet (counted in stats().mtu either way). */
  tunnelIcmpError?(report: TunnelIcmpReport): void;
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
  /** Tunnel MTU handling; optional so that a backend without it need not invent figures. */
  readonly mtu?: TunnelMtuStats;
  /** "kernel" or "userspace" */
  readonly backend?: string;
  /** the kernel fast path's counters (kernel backend only) */
  readonly fastPath?: FastPathStats;
}

export interface TunnelMtuStats {
  /** The first-hop MTU every path starts at (interface or configured). */
  readonly uplinkMtu: number;
  /** Paths towards an HA currently lowered by "fragmentation needed". */
  readonly loweredPaths: number;
  /** Outer packets the AN fragmented (DF clear), and the fragments that made of them. */
  readonly fragmented: number;
  readonly fragments: number;
  /** IPv6 packets from MNs above the tunnel MTU with DF set: not sent. */
  readonly tooBig: number;
  /** Packet Too Big messages sent to MNs, held back by the per-MN rate limit, and not allowed (RFC 4443 2.4 (e)). */
  readonly packetTooBigSent: number;
  readonly packetTooBigRateLimited: number;
  readonly packetTooBigSuppressed: number;
  /** ICMPv4 errors about our tunnel packets; of them "fragmentation needed"; and the path MTU decreases they caused. */
  readonly icmpErrors: number;
  readonly icmpFragmentationNeeded: number;
  readonly pathMtuLowered: number;
  /** ICMPv4 errors that were malformed or not about a tunnel packet of ours (forged, or another socket's). */
  readonly icmpIgnored: number;
  /** Decapsulated IPv6 packets bigger than the access link MTU: dropped (the AN is a bridge). */
  readonly toMnTooBig: number;
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
  /**
   * Queues an IPv6 packet for the MN's tunnel (outer IPv4, GRE when keyed). `mn` (the
   * MN's MAC, "aa:bb:..") lets the backend answer a packet above the tunnel MTU with
   * Packet Too Big; without it such a packet is only counted.
   */
  toTunnel(tunnel: TunnelTarget, packet: Uint8Array, mn?: string): void;
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
  /** receive buffer of the access packet socket (0 or absent: the kernel default) */
  readonly accessReceiveBufferBytes?: number;
  /** Overrides the uplink interface's MTU (capped at it): e.g. a narrower link beyond the first hop. */
  readonly uplinkMtu?: number;
  /** Monotonic ms for the MTU table aging and the PTB rate limit (default: the system clock). */
  readonly now?: () => number;
  /** the kernel fast path is in front: read the access link after tc ingress (see PacketOpenOptions.afterTc) */
  readonly afterTc?: boolean;
}
