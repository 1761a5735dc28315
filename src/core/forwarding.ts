// Forwarding for sessions the engine knows: the MN's frames held while it
// registers and bridged into its tunnel once bound, the HA's packets held while
// the reply is on its way and delivered to the MN after, and what the AN learns
// on the way (the MN's addresses from its DAD probes, the HA's link-layer
// address from its RA, a DAD defence from its NA: draft 3.2.2-3.2.4).
import { parseEthernet } from "../wire/ethernet.ts";
import { macFromKey } from "../wire/mac.ts";
import { classifyFrame, ND_NEIGHBOR_SOLICITATION, ND_ROUTER_SOLICITATION } from "../wire/ndisc.ts";
import { deliverLingering } from "./dad-failure.ts";
import { acceptFromPeer, forwardToPeer } from "./handover-forward.ts";
import { dropAway, holdAway, holdRevokedAway } from "./leave-hold.ts";
import { bytesEqual } from "./engine-parts.ts";
import type { EngineParts } from "./engine-parts.ts";
import type { TunnelTarget } from "./events.ts";
import { inspectDownlink, inspectUplink } from "./ipv6-inspect.ts";
import type { Session } from "./session.ts";
import { isForwarding } from "./transitions.ts";

export type UplinkSeen = ReturnType<typeof inspectUplink>;

export interface TunnelPacket {
  readonly outerSrc: number;
  readonly outerDst: number;
  readonly greKey: number | null;
  readonly packet: Uint8Array;
}

export class Forwarding {
  constructor(private readonly p: EngineParts) {}

  /** An IPv6 frame from a known MN (its IPv6 header at `ipOffset`). */
  fromMn(s: Session, frame: Uint8Array, ipOffset: number): void {
    const counters = this.p.counters;
    if (isForwarding(s.state)) {
      const seen = inspectUplink(frame, ipOffset);
      if (seen.kind === "malformed") {
        counters.framesMalformed++;
        return;
      }
      this.learnUplink(s, seen);
      this.toTunnel(s, frame.subarray(ipOffset, ipOffset + seen.packetLength));
      return;
    }
    switch (s.state) {
      case "registering": {
        const seen = inspectUplink(frame, ipOffset);
        if (seen.kind === "malformed") {
          counters.framesMalformed++;
          return;
        }
        this.learnUplink(s, seen);
        this.holdFrame(s, frame);
        return;
      }
      case "deregistering":
        counters.framesDroppedDeregistering++;
        return;
      default:
        // failed / no-service: the hold-off also refuses new triggers from this MN.
        if (isTrigger(classifyFrame(frame))) counters.refusedHoldOff++;
        else counters.framesDroppedNoService++;
        return;
    }
  }

  learnUplink(s: Session, seen: UplinkSeen): void {
    if (seen.kind === "malformed") return;
    if (seen.kind === "neighbor-solicitation" && seen.dadTarget !== null) {
      s.lastDadProbeAt = s.lastHeardAt; // the engine stamps every frame before it gets here
      if (!s.dadTargets.includes(seen.dadTarget)) {
        if (s.dadTargets.length >= 8) s.dadTargets.shift();
        s.dadTargets.push(seen.dadTarget);
      }
    }
    // A DAD probe names the address the MN is about to use (its SLAAC global address
    // included): the handover context needs those. Data packets are not inspected,
    // to keep the per-packet path short; an MN's addresses all pass through DAD.
    const learned = seen.kind === "neighbor-solicitation" && seen.dadTarget !== null ? seen.dadTarget : seen.source;
    if (learned !== null) this.learnAddress(s, learned);
  }

  private learnAddress(s: Session, address: string): void {
    const max = this.p.config.maxLearnedAddresses;
    if (max === 0 || s.addresses.includes(address)) return;
    if (s.addresses.length >= max) s.addresses.shift();
    s.addresses.push(address);
    // Issue 10: a bound MN's new address (its SLAAC global one is probed after the RA,
    // so after the bind) goes into its record: the new AN takes forwarded packets for
    // the addresses the record names.
    if (isForwarding(s.state)) this.p.outbox.push({ kind: "context-changed", mac: s.mac });
  }

  holdFrame(s: Session, frame: Uint8Array): void {
    const counters = this.p.counters;
    const dropped = this.p.hold.hold(s.held, frame);
    if (dropped === undefined) {
      counters.framesHeld++;
      return;
    }
    switch (dropped) {
      case "per-mn-frames":
        counters.holdDropPerMnFrames++;
        break;
      case "per-mn-bytes":
        counters.holdDropPerMnBytes++;
        break;
      case "total-frames":
        counters.holdDropTotalFrames++;
        break;
      case "total-bytes":
        counters.holdDropTotalBytes++;
        break;
    }
    this.p.outbox.emit({ type: "hold-dropped", mac: s.mac, reason: dropped });
  }

  /**
   * The session may forward now: the datapath is told, the MN's held frames go
   * into its tunnel and the HA's held packets to the MN. Returns the uplink
   * frames released.
   */
  startForwarding(now: number, s: Session): number {
    // The action's own copy of the MAC's bytes: reading s.macBytes would keep them in every bound session (issue 12).
    this.p.outbox.push({ kind: "bind", mac: s.mac, macBytes: macFromKey(s.macKey), tunnel: this.tunnelOf(s), downlinkKey: s.careOf.greKey });
    const held = this.p.hold.drain(s.held);
    // A held DAD probe reaches the HA only now (draft 3.2.4 step 5): its NA may come from now on.
    if (held.length > 0 && s.dadTargets.length > 0) s.lastDadProbeAt = now;
    for (const f of held) this.releaseHeld(s, f);
    this.p.counters.framesHeldReleased += held.length;
    if (s.heldDownlink) {
      const down = this.p.hold.drain(s.heldDownlink);
      s.heldDownlink = null;
      for (const packet of down) this.deliverDownlink(now, s, packet);
    }
    return held.length;
  }

  /**
   * Issue 10: an away MN is back (leave-hold.ts): the datapath bridges it again and
   * the downlink held meanwhile goes to it. Returns how many packets were held.
   */
  resumeBound(now: number, s: Session): number {
    this.p.outbox.push({ kind: "bind", mac: s.mac, macBytes: macFromKey(s.macKey), tunnel: this.tunnelOf(s), downlinkKey: s.careOf.greKey });
    if (!s.heldDownlink) return 0;
    const down = this.p.hold.drain(s.heldDownlink);
    s.heldDownlink = null;
    for (const packet of down) this.deliverDownlink(now, s, packet);
    return down.length;
  }

  /** Everything held for the session, both ways, is dropped. */
  dropHeld(s: Session): void {
    if (s.away) return dropAway(this.p, s, "ended"); // issue 10: counted, told
    this.p.hold.drain(s.held);
    if (s.heldDownlink) this.p.hold.drain(s.heldDownlink);
    s.heldDownlink = null;
  }

  /** Held frames passed inspection when they arrived; strip L2 header and padding. */
  private releaseHeld(s: Session, frame: Uint8Array): void {
    const eth = parseEthernet(frame);
    if (!eth.ok || frame.length < eth.length + 40) return;
    const length = 40 + ((frame[eth.length + 4]! << 8) | frame[eth.length + 5]!);
    this.toTunnel(s, frame.subarray(eth.length, Math.min(frame.length, eth.length + length)));
  }

  private toTunnel(s: Session, packet: Uint8Array): void {
    this.p.counters.framesToTunnel++;
    this.p.outbox.push({ kind: "to-tunnel", mac: s.mac, tunnel: s.tunnel ?? this.tunnelOf(s), packet });
  }

  /** The session's tunnel; cached on the session once bound (the uplink key is known then). */
  private tunnelOf(s: Session): TunnelTarget {
    s.tunnel = {
      careOf: s.careOf.address,
      homeAgent: s.realm.homeAgent,
      greKey: s.careOf.greKey === null ? null : (s.uplinkKey ?? s.careOf.greKey),
    };
    return s.tunnel;
  }

  /** A decapsulated packet from a tunnel: matched to its session by GRE key or CoA. */
  fromTunnel(now: number, t: TunnelPacket): void {
    const counters = this.p.counters;
    counters.packetsFromTunnel++;
    const s = t.greKey !== null ? this.p.table.byKey.get(t.greKey) : this.p.table.byCoa.get(t.outerDst);
    const registering = s?.state === "registering";
    if (!s || !(isForwarding(s.state) || registering)) {
      // Issue 10: released to a new AN (before the linger: the MN is not here), or from the old AN.
      // A session revoked while away holds on (leave-hold.ts): the MN is not on this link either.
      if (forwardToPeer(this.p, now, t) || holdRevokedAway(this.p, now, t) || deliverLingering(this.p, now, t) || acceptFromPeer(this.p, now, t)) return; // issue 9 item 1
      counters.packetsFromTunnelUnmatched++;
      return;
    }
    if (t.outerSrc !== s.realm.homeAgent || t.outerDst !== s.careOf.address) {
      if (acceptFromPeer(this.p, now, t)) return; // issue 10: the old AN forwarding
      counters.packetsFromTunnelWrongSource++;
      return;
    }
    if (s.away) return holdAway(this.p, s, t.packet); // issue 10: the MN left; a release or its return may follow
    if (registering) {
      // The HA sends its RA right after the reply (draft Figure 6 step 6) and the
      // two arrive on different sockets: the RA may be read first. Hold it (bounded,
      // like the uplink) until the reply binds the session.
      s.heldDownlink ??= { frames: [], bytes: 0 };
      if (this.p.hold.hold(s.heldDownlink, t.packet) === undefined) counters.downlinkHeld++;
      else counters.downlinkHoldDropped++;
      return;
    }
    this.deliverDownlink(now, s, t.packet);
  }

  /** An IPv6 packet from the MN's tunnel: inspected on the way (never altered), then to the MN. */
  private deliverDownlink(now: number, s: Session, packet: Uint8Array): void {
    const counters = this.p.counters;
    const seen = inspectDownlink(packet);
    if (seen.kind === "malformed") {
      counters.packetsFromTunnelMalformed++;
      return;
    }
    if (seen.kind === "router-advertisement") {
      counters.routerAdvertisementsSeen++;
      if (seen.sourceLinkLayer !== null) {
        const changed = !s.haLinkLayer || !bytesEqual(s.haLinkLayer, seen.sourceLinkLayer);
        if (changed) {
          s.haLinkLayer = seen.sourceLinkLayer.slice();
          s.recorded = true;
          this.p.outbox.push({ kind: "context-changed", mac: s.mac });
        }
      }
    } else if (seen.kind === "neighbor-advertisement" && seen.target !== null) {
      const i = s.dadTargets.indexOf(seen.target);
      if (i >= 0) {
        // The HA defended an address the MN is probing: proxy DAD failed (draft 3.2.4).
        s.dadDefendedAt = now;
        s.dadTargets.splice(i, 1);
        const j = s.addresses.indexOf(seen.target);
        if (j >= 0) s.addresses.splice(j, 1);
      }
    }
    counters.framesToMn++;
    this.p.outbox.push({ kind: "to-mn", dst: s.macBytes, src: s.haLinkLayer ?? this.p.config.accessMac, packet });
  }
}

function isTrigger(frameClass: number): boolean {
  return frameClass === ND_NEIGHBOR_SOLICITATION || frameClass === ND_ROUTER_SOLICITATION;
}
