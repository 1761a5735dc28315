// The IPv4 path MTU towards each home agent (RFC 4213 3.2.2 and 3.4, RFC 1191).
// Every path starts at the uplink MTU (the interface's, read at start, or the
// configured tunnel.uplinkMtu). An ICMPv4 "fragmentation needed" about one of our
// tunnel packets lowers it for that HA; 10 minutes after the last decrease the entry
// is forgotten and the path is back at the uplink MTU (RFC 1191 6.3 and RFC 8201 5.3
// recommend probing upwards again after 10 minutes: here by simply trying the
// uplink MTU; a path that is still narrow reports itself again).
//
// The floor is 552 bytes (Linux's net.ipv4.route.min_pmtu default), not 68: a forged
// report must not make the AN cut every packet into 48-byte pieces. A narrower path
// still works: with DF clear the routers fragment further; with DF set the tunnel
// MTU seen by IPv6 stays at 1280 and those packets leave with DF clear (RFC 4213 3.2.2).

export const PMTU_AGING_MS = 10 * 60_000;
export const PMTU_FLOOR = 552;

/** RFC 1191 7: plateaus for routers that report MTU 0 (pre-RFC 1191). */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

export interface PathMtuEntry {
  readonly mtu: number;
  readonly loweredAt: number;
}

export class TunnelMtuTable {
  private readonly entries = new Map<number, PathMtuEntry>();

  constructor(
    /** The first-hop MTU: what every path is until told otherwise. */
    readonly uplinkMtu: number,
    private readonly agingMs = PMTU_AGING_MS,
    private readonly floor = PMTU_FLOOR,
  ) {
    if (!Number.isInteger(uplinkMtu) || uplinkMtu < 68 || uplinkMtu > 65535) throw new RangeError(`uplink MTU ${uplinkMtu} out of 68..65535`);
  }

  /** The IPv4 path MTU towards `homeAgent` at monotonic time `now` (ms). */
  pathMtu(homeAgent: number, now: number): number {
    if (this.entries.size === 0) return this.uplinkMtu;
    const e = this.entries.get(homeAgent);
    if (e === undefined) return this.uplinkMtu;
    if (now - e.loweredAt >= this.agingMs) {
      this.entries.delete(homeAgent);
      return this.uplinkMtu;
    }
    return e.mtu;
  }

  /**
   * A "fragmentation needed" report (RFC 1191): `reported` is the next-hop MTU (0 when
   * the router did not say: the plateau below the quoted packet's length is taken).
   * Returns the new path MTU when it went down, else null (a report never raises it,
   * and one not below the quoted packet's length is ignored).
   */
  lower(homeAgent: number, reported: number, quotedLength: number, now: number): number | null {
    let mtu = reported;
    // RFC 1191 5: a router that does not say (0): guess the plateau below the packet's size.
    if (mtu === 0) mtu = PLATEAUS.find((p) => p < quotedLength) ?? 68;
    // A next-hop MTU not below the packet that "did not fit" is bogus (RFC 5927 5.2): nothing to learn.
    else if (mtu >= quotedLength) return null;
    mtu = Math.max(this.floor, Math.min(mtu, this.uplinkMtu));
    if (mtu >= this.pathMtu(homeAgent, now)) return null;
    this.entries.set(homeAgent, { mtu, loweredAt: now });
    return mtu;
  }

  /** Lowered paths still remembered (entries not yet aged out at their last lookup). */
  get size(): number {
    return this.entries.size;
  }

  snapshot(): ReadonlyMap<number, PathMtuEntry> {
    return this.entries;
  }
}

/** RFC 8200 5: the smallest link MTU IPv6 may see. */
const IPV6_MIN_LINK_MTU = 1280;

export type TunnelSend =
  /** Send with this DF bit; `fragment`: the outer packet is above the path MTU (DF is then clear). */
  | { readonly kind: "send"; readonly dontFragment: boolean; readonly fragment: boolean }
  /** DF set and the IPv6 packet is above the tunnel MTU: answer Packet Too Big with `mtu`, drop it. */
  | { readonly kind: "too-big"; readonly mtu: number };

const SEND_WHOLE_DF: TunnelSend = { kind: "send", dontFragment: true, fragment: false };
const SEND_WHOLE: TunnelSend = { kind: "send", dontFragment: false, fragment: false };
const SEND_FRAGMENTED: TunnelSend = { kind: "send", dontFragment: false, fragment: true };

/**
 * What to do with an IPv6 packet of `innerLength` bytes behind `headerLength` bytes
 * of outer header on a path of `pathMtu`. DF clear: send, fragmented when above the
 * path MTU. DF set, RFC 4213 3.2.2: the tunnel MTU is pathMtu - header, never below
 * 1280; above it: Packet Too Big; at most 1280 on a path narrower than that: DF clear
 * and fragmented.
 */
export function tunnelSendDecision(innerLength: number, headerLength: number, pathMtu: number, dontFragment: boolean): TunnelSend {
  const fits = headerLength + innerLength <= pathMtu;
  if (!dontFragment) return fits ? SEND_WHOLE : SEND_FRAGMENTED;
  if (fits) return SEND_WHOLE_DF;
  const linkMtu = Math.max(IPV6_MIN_LINK_MTU, pathMtu - headerLength);
  return innerLength > linkMtu ? { kind: "too-big", mtu: linkMtu } : SEND_FRAGMENTED;
}
