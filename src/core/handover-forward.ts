// Issue 10, "nothing is lost" on handover. At the old AN: once the MN is released
// to a new AN that named its care-of address for it (the signed release request,
// src/app/release-rpc.ts), what the MN's HA still sends to the old CoA/GRE key (a
// slow or in-flight HA path, or packets already under way) goes on to the new AN
// as plain 6in4 (RFC 4213) from the old CoA, for `releaseForwardMs`, instead of to
// an access link the MN has left; so do the downlink packets still held for it.
// Either order with the HA's revocation works: a release of a session that was
// revoked meanwhile takes the lingering entry's CoA (revoked-linger.ts). A session
// held since its MN left the link (leave-hold.ts) sends what it held the same way.
// At the new AN: 6in4 from the old AN's CoA (from the signed context record, never
// from anything unsigned) to the new session's CoA, for one of that MN's addresses,
// goes to the MN for `peerForwardAcceptMs`; anything else from there is dropped as
// before. An MN back at the old AN within its window (A -> B -> A) gets what the HA
// still sends to its first CoA here. The inner IPv6 packet is never changed. Bounded:
// maxSessions entries each side; forwards oldest dropped first, accept windows refused
// when all are live (peer-accepts.ts); expiry is lazy (no timers here).
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { formatIpv6 } from "../wire/ipv6-address.ts";
import type { CareOf } from "./care-of.ts";
import type { EngineParts } from "./engine-parts.ts";
import { ExpiringTunnelIndex } from "./expiring-tunnel-index.ts";
import type { TunnelPacket } from "./forwarding.ts";
import { inspectDownlink } from "./ipv6-inspect.ts";
import { forwardedAway, holdAway, releaseRevokedAway } from "./leave-hold.ts";
import { PeerAccepts } from "./peer-accepts.ts";
import type { Session } from "./session.ts";

/** A released session's downlink identity and where its packets go now. */
export interface ForwardEntry {
  readonly mac: string;
  readonly homeAgent: number;
  readonly careOf: CareOf;
  /** The new AN's care-of address for the MN (outer destination). */
  readonly target: number;
  readonly until: number;
}

const IPV6_HEADER = 40;
const IPV6_DST_OFFSET = 24;

export class HandoverForward {
  readonly forwards: ExpiringTunnelIndex<ForwardEntry>;
  /** The new AN's accept windows, one per session (found by the inner destination). */
  readonly accepts: PeerAccepts;

  constructor(maxEntries: number) {
    this.forwards = new ExpiringTunnelIndex<ForwardEntry>(maxEntries);
    this.accepts = new PeerAccepts(maxEntries);
  }

  setMaxEntries(n: number): void {
    this.forwards.setMaxEntries(n);
    this.accepts.setMaxWindows(n);
  }
}

/**
 * The engine's `hand-over` input: the session (if any) is let go without
 * deregistering; with a forwarding target (and the window configured) its
 * downlink is forwarded there from now on, and what is held for the MN goes first.
 * A session already revoked (lingering) gets the same window.
 */
export function handOver(p: EngineParts, now: number, mac: string, forwardTo: number | undefined, expected: CareOf | undefined, release: (s: Session) => void): void {
  const from = releasableSession(p, now, mac, expected);
  if (!from) {
    if (expected && (p.table.has(mac) || p.linger.findMac(now, mac) || p.leaveHolds.findMac(now, mac))) p.counters.releasesNotOurs++;
    return;
  }
  const s = p.table.get(mac);
  const ms = p.config.releaseForwardMs ?? 0;
  const forward = forwardTo !== undefined && ms > 0;
  if (!forward) {
    if (s) release(s);
    return;
  }
  const e: ForwardEntry = { mac, homeAgent: from.homeAgent, careOf: { address: from.careOf.address, greKey: from.careOf.greKey }, target: forwardTo, until: now + ms };
  p.counters.forwardEntriesDropped += p.handoverForward.forwards.add(now, e);
  p.counters.forwardWindowsOpened++;
  p.outbox.emit({ type: "forwarding-to-peer", mac, target: formatIpv4(forwardTo), windowMs: ms });
  if (!s) {
    // The revoked session's CoA rested only for its linger: the window claims it longer.
    p.careOf.restUntil(e.careOf, now, e.until);
    return releaseRevokedAway(p, now, mac, (packet) => toPeer(p, e, packet));
  }
  let n = 0;
  if (s.heldDownlink) {
    const held = p.hold.drain(s.heldDownlink);
    s.heldDownlink = null;
    for (const packet of held) toPeer(p, e, packet);
    n = held.length;
  }
  if (s.away) forwardedAway(p, s, n); // issue 10: held since the MN left this link (leave-hold.ts)
  release(s);
  // Not another MN's while the window claims it (the binding may run out sooner): the
  // datapath tells tunnels apart by CoA, and the entry would take that MN's downlink.
  p.careOf.restUntil(e.careOf, now, e.until, s.nai);
}

/**
 * What a hand-over of `mac` would let go: its session, else its revoked session still
 * lingering; with `expected` (the CoA in the asker's record) only the one on that CoA.
 * A newer session here is the MN back (A -> B -> A) and a release of the old one
 * arriving late (retried over a broker outage, or slow) must not cut it off.
 */
export function releasableSession(p: EngineParts, now: number, mac: string, expected: CareOf | undefined): { readonly homeAgent: number; readonly careOf: CareOf } | undefined {
  const s = p.table.get(mac);
  const on = (c: CareOf): boolean => expected === undefined || (c.address === expected.address && c.greKey === expected.greKey);
  if (s) return on(s.careOf) ? { homeAgent: s.realm.homeAgent, careOf: s.careOf } : undefined;
  // A session revoked during its leave window may not linger (revocationLingerMs 0): its hold knows the tunnel too.
  const l = p.linger.findMac(now, mac) ?? p.leaveHolds.findMac(now, mac);
  return l && on(l.careOf) ? l : undefined;
}

/** A downlink packet of a released session: on to the new AN (true), or not ours (false). */
export function forwardToPeer(p: EngineParts, now: number, t: TunnelPacket): boolean {
  const e = p.handoverForward.forwards.find(now, t.outerDst, t.greKey);
  if (!e || t.outerSrc !== e.homeAgent || t.outerDst !== e.careOf.address) return false;
  // The MN came back within the window (A -> B -> A): it has a session here again, so
  // what the HA still sends to the first CoA is delivered here; the AN it left would
  // drop it (that AN has let go of it too, and takes 6in4 only for a session it has).
  const back = p.table.get(e.mac);
  if (back) {
    if (inspectDownlink(t.packet).kind === "malformed") return false;
    p.counters.forwardReturnedToMn++;
    // It left this link again (leave-hold.ts): held with the rest of its downlink, not sent to the empty link.
    if (back.away) {
      holdAway(p, back, t.packet);
      return true;
    }
    p.counters.framesToMn++;
    p.outbox.push({ kind: "to-mn", dst: back.macBytes, src: back.haLinkLayer ?? p.config.accessMac, packet: t.packet });
    return true;
  }
  toPeer(p, e, t.packet);
  return true;
}

function toPeer(p: EngineParts, e: ForwardEntry, packet: Uint8Array): void {
  p.counters.framesForwardedToPeer++;
  // Plain 6in4 (no GRE key: the new AN matches on the outer addresses), the packet as it came.
  p.outbox.push({ kind: "to-peer", tunnel: { careOf: e.careOf.address, homeAgent: e.target, greKey: null }, packet });
}

/** After a handover in (a verified record): 6in4 from the old AN's CoA for this MN's addresses is taken for a while. */
export function openAcceptFromPeer(p: EngineParts, now: number, s: Session, peer: number): void {
  const ms = p.config.peerForwardAcceptMs ?? 0;
  if (ms <= 0 || peer === s.careOf.address || s.addresses.length === 0) return;
  if (p.handoverForward.accepts.open(now, { mac: s.mac, peer, careOf: s.careOf.address, addresses: [...s.addresses], until: now + ms })) p.counters.acceptWindowsOpened++;
  else p.counters.acceptWindowsRefused++;
}

/** A tunnel packet no session took: the old AN forwarding to one of our MNs (true: delivered). */
export function acceptFromPeer(p: EngineParts, now: number, t: TunnelPacket): boolean {
  if (p.handoverForward.accepts.size === 0 || t.greKey !== null || t.packet.length < IPV6_HEADER) return false;
  const a = p.handoverForward.accepts.find(now, formatIpv6(t.packet, IPV6_DST_OFFSET));
  if (!a || t.outerSrc !== a.peer || t.outerDst !== a.careOf) return false;
  const s = p.table.get(a.mac);
  if (!s || s.careOf.address !== a.careOf || inspectDownlink(t.packet).kind === "malformed") return false;
  p.counters.framesForwardedFromPeer++;
  p.counters.framesToMn++;
  p.outbox.push({ kind: "to-mn", dst: s.macBytes, src: s.haLinkLayer ?? p.config.accessMac, packet: t.packet });
  return true;
}
