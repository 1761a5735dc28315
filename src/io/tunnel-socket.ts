// The tunnel side of the datapath: one raw IPv4 socket per protocol (41 IPv6-in-IPv4,
// 47 GRE) for all care-of addresses. The caller writes whole IPv4 packets, outer
// header included (IP_HDRINCL): any source address, DF as written (clear it). The
// kernel fills the checksum and total length, and the identification when it is 0;
// it never fragments such a packet (bigger than the route MTU: refused, EMSGSIZE).
// Receive gives whole IPv4 packets (header included) addressed to a local address
// of this host: a CoA must be configured on an interface to receive on it.
import type { NativeEndpoint, RawOpenOptions } from "./native-addon.ts";
import { nativeAddon } from "./native-addon.ts";
import type { BatchOptions } from "./packet-endpoint.ts";
import { DEFAULT_BATCH_SIZE, PacketEndpoint } from "./packet-endpoint.ts";

export const TunnelProtocol = { ipv6InIpv4: 41, gre: 47 } as const;
export type TunnelProtocol = (typeof TunnelProtocol)[keyof typeof TunnelProtocol];

export interface TunnelSocketOptions extends BatchOptions, RawOpenOptions {}

/** Reassembled datagrams can exceed the link MTU; bigger ones are dropped and counted. */
export const DEFAULT_TUNNEL_SLOT = 4096;

export class TunnelSocket extends PacketEndpoint {
  private constructor(
    readonly protocol: TunnelProtocol,
    native: NativeEndpoint,
    batchSize: number,
    slotSize: number,
  ) {
    super(native, batchSize, slotSize);
  }

  static open(protocol: TunnelProtocol, options: TunnelSocketOptions = {}): TunnelSocket {
    const raw: RawOpenOptions = {
      receiveBufferBytes: options.receiveBufferBytes ?? 0,
      sendBufferBytes: options.sendBufferBytes ?? 0,
      ...(options.interface !== undefined ? { interface: options.interface } : {}),
    };
    return new TunnelSocket(
      protocol,
      nativeAddon().openRawIPv4(protocol, raw),
      options.batchSize ?? DEFAULT_BATCH_SIZE,
      options.slotSize ?? DEFAULT_TUNNEL_SLOT,
    );
  }

  protected describe(): string {
    return `raw IPv4 protocol ${this.protocol} socket`;
  }
}
