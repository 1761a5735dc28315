// The access-link side of the datapath: an AF_PACKET socket on the access interface
// that receives only IPv6 frames (classic BPF), never its own or other outgoing
// frames, and sends whole Ethernet frames out of that interface.
import { interfaceInfo } from "./network-interface.ts";
import type { InterfaceInfo, NativePacketEndpoint } from "./native-addon.ts";
import { nativeAddon } from "./native-addon.ts";
import type { BatchOptions } from "./packet-endpoint.ts";
import { DEFAULT_BATCH_SIZE, PacketEndpoint } from "./packet-endpoint.ts";

export interface AccessLinkOptions extends BatchOptions {
  /** "ipv6" (default) or "all" frames (test peers, diagnostics) */
  readonly filter?: "ipv6" | "all";
  /** also accept 802.1Q-tagged IPv6; the tag is stripped, see batch.vlanTci(i) */
  readonly vlan?: boolean;
  /** PACKET_MR_PROMISC membership while open (frames for the HA's MAC on a real NIC) */
  readonly promiscuous?: boolean;
  /** see PacketOpenOptions.afterTc: with the kernel fast path on this interface */
  readonly afterTc?: boolean;
  readonly receiveBufferBytes?: number;
  readonly sendBufferBytes?: number;
}

/** Ethernet header + one 802.1Q tag on top of the MTU, in 64-byte steps. */
function slotFor(mtu: number): number {
  return Math.ceil((Math.max(mtu, 1280) + 18) / 64) * 64;
}

export class AccessLinkSocket extends PacketEndpoint {
  private constructor(
    native: NativePacketEndpoint,
    /** the interface at open time: index, MAC, MTU */
    readonly link: InterfaceInfo,
    batchSize: number,
    slotSize: number,
    /** false on Linux < 4.20 (outgoing frames then dropped by the filter) */
    readonly kernelIgnoresOutgoing: boolean,
  ) {
    super(native, batchSize, slotSize);
  }

  static open(ifname: string, options: AccessLinkOptions = {}): AccessLinkSocket {
    const link = interfaceInfo(ifname);
    const native = nativeAddon().openPacket(ifname, {
      filter: options.filter ?? "ipv6",
      vlan: options.vlan ?? false,
      promiscuous: options.promiscuous ?? false,
      afterTc: options.afterTc ?? false,
      receiveBufferBytes: options.receiveBufferBytes ?? 0,
      sendBufferBytes: options.sendBufferBytes ?? 0,
    });
    return new AccessLinkSocket(
      native,
      link,
      options.batchSize ?? DEFAULT_BATCH_SIZE,
      options.slotSize ?? slotFor(link.mtu),
      native.kernelIgnoresOutgoing,
    );
  }

  protected describe(): string {
    return `access link socket on ${this.link.name}`;
  }
}
