// ICMPv4 errors about the AN's tunnel packets (RFC 4213 3.4): a raw IPv4 socket for
// protocol 1, bound to the uplink, with the kernel's ICMP_FILTER letting only error
// types through (3 Destination Unreachable, 11 Time Exceeded, 12 Parameter Problem).
//
// Why a raw ICMP socket and not IP_RECVERR on the protocol 41/47 sockets: the kernel
// gives a raw socket a copy of every ICMP message addressed to the host, whole, with
// the quoted packet, on the same batched receive path as the tunnel sockets; one
// socket covers both tunnel protocols. IP_RECVERR would deliver the errors on the
// error queue (MSG_ERRQUEUE, POLLERR, sock_extended_err cmsgs): a second receive path
// in the addon for the same information. The kernel still does its own processing of
// the error (e.g. the route's PMTU for the HA), which this does not replace.
import { nativeAddon } from "./native-addon.ts";
import type { BatchOptions } from "./packet-endpoint.ts";
import { PacketEndpoint } from "./packet-endpoint.ts";

export interface IcmpErrorSocketOptions extends BatchOptions {
  /** SO_BINDTODEVICE: only errors arriving on this interface. */
  readonly interface?: string;
}

/** RFC 1812 4.3.2.3: an ICMP error is at most 576 bytes; room for ones that quote more. */
const ICMP_SLOT = 1536;

export class IcmpErrorSocket extends PacketEndpoint {
  static open(options: IcmpErrorSocketOptions = {}): IcmpErrorSocket {
    const native = nativeAddon().openRawIPv4(1, {
      icmpErrorsOnly: true,
      ...(options.interface !== undefined ? { interface: options.interface } : {}),
    });
    return new IcmpErrorSocket(native, options.batchSize ?? 16, options.slotSize ?? ICMP_SLOT);
  }

  protected describe(): string {
    return "raw ICMP error socket";
  }
}
