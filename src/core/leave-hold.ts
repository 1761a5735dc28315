// Issue 10, "nothing is lost" before the release. When the link layer says a bound
// MN left (hostapd's disconnect, a per-station port's carrier), the AN (a fleet AN by
// default, others when configured) does not deregister at once: the MN has most likely
// moved to another AN, which will ask for a release within a moment (a fleet) or
// whose registration moves the binding so that the HA revokes ours (draft 3.2.3). For `leaveHoldMs` the
// session keeps its binding (renewals go on as before) and is `away`: the datapath
// no longer delivers to it (unbind), and the downlink its HA sends is held in the
// session's downlink hold (the hold caps apply; refusals are counted by cap). Then:
// - a release (the hand-over input, handover-forward.ts) sends the held frames on
//   to the new AN ahead of what follows;
// - the MN comes back (station-authorised, or its frames): bound again, rebound in
//   the datapath, the held frames delivered; no registration needed;
// - the HA's revocation (the new AN registered first) ends the session as ever, but
//   its held frames, and what the HA still sends to the old CoA, stay here (bounded:
//   maxSessions entries) until the window's end, for a release that comes later;
// - nothing by the window's end: the held frames are dropped (counted) and the
//   session deregisters, the "left" step as without the window.
// Each hold ends with one leave-hold-ended event naming the outcome.
import type { CareOf } from "./care-of.ts";
import type { EngineParts } from "./engine-parts.ts";
import type { EngineConfig } from "./config.ts";
import { ExpiringTunnelIndex } from "./expiring-tunnel-index.ts";
import { resolveIdentity } from "./identity.ts";
import type { TunnelPacket } from "./forwarding.ts";
import type { HeldFrames, HoldDropReason } from "./hold-buffer.ts";
import { NO_FRAMES } from "./hold-buffer.ts";
import type { Session } from "./session.ts";
import { isForwarding } from "./transitions.ts";

/** A session revoked during its leave window: what is held for it, kept for a release until the window's end. */
export interface RevokedAway {
  readonly mac: string;
  readonly homeAgent: number;
  readonly careOf: CareOf;
  readonly until: number;
  readonly held: HeldFrames;
}

/** The leave window in force (the config's mapping gives a fleet AN its default; 0: deregister at once). */
export function leaveHoldMs(config: EngineConfig): number {
  return config.leaveHoldMs ?? 0;
}

/** The revoked sessions' holds; `parts` is read when one is dropped (its frames leave the pool, counted). */
export function newRevokedHolds(maxEntries: number, parts: () => EngineParts): ExpiringTunnelIndex<RevokedAway> {
  return new ExpiringTunnelIndex<RevokedAway>(maxEntries, (e) => {
    const p = parts();
    const n = p.hold.drain(e.held).length;
    ended(p, e.mac, "expired", n, true);
  });
}

/** The link layer says the station of `s` left: held away (a bound session of a fleet AN), or `leave` (deregister) as before. */
export function stationLeftLink(p: EngineParts, now: number, s: Session, leave: () => void): void {
  if (s.away) return; // the first leave's window runs
  p.counters.stationsLeft++; // issue 9 item 4
  const ms = leaveHoldMs(p.config);
  if (ms <= 0 || !isForwarding(s.state)) {
    p.outbox.emit({ type: "station-left", mac: s.mac, cause: "link" });
    return leave();
  }
  s.away = true;
  p.counters.leaveHolds++;
  p.outbox.emit({ type: "station-left", mac: s.mac, cause: "link", holdMs: ms });
  // The kernel fast path would deliver to the empty link: unbound, the downlink comes here.
  p.outbox.push({ kind: "unbind", mac: s.mac });
  p.timers.set(s, "leaveHold", now + ms);
}

/**
 * Until when an away session's renewal waits: just past its window (its end, or the
 * MN's return, decides first). With the S bit clear, a nonzero lifetime from this CoA
 * replaces every binding of the MN (RFC 5944 3.8.2.2), the new AN's too, while the
 * lifetime-0 request at the window's end deletes only ours. -Infinity: not away.
 */
export function renewalHeldUntil(p: EngineParts, s: Session): number {
  if (!s.away) return -Infinity;
  const end = p.timers.at(s, "leaveHold");
  return Number.isFinite(end) ? end + 1 : -Infinity;
}

/** A downlink packet for an away session: held (bounded). */
export function holdAway(p: EngineParts, s: Session, packet: Uint8Array): void {
  s.heldDownlink ??= { frames: [], bytes: 0 };
  counted(p, p.hold.hold(s.heldDownlink, packet));
}

/**
 * The MN is back within the window (its frames, or the link layer authorised it):
 * `resume` rebinds it and delivers what was held (returns how many). A frame from a
 * station not authorised again, where that is asked, is refused (false).
 */
export function returnFromLeave(p: EngineParts, s: Session, authorised: boolean, resume: () => number): boolean {
  if (p.config.linkLayer?.requireAuthorised === true && !authorised) {
    p.counters.framesUnauthorised++;
    return false;
  }
  s.away = false;
  p.timers.disarm(s, "leaveHold");
  const n = resume();
  p.counters.leaveHoldsReturned++;
  p.counters.framesLeaveHeldDelivered += n;
  ended(p, s.mac, "returned", n);
  return true;
}

/**
 * Whether a station authorised again (with `identity`, if the link layer gave one) is
 * the MN that left: its identity would name the session's NAI now. Another user on the
 * same MAC (a log-off, then their log-on) must not get the held downlink and binding.
 */
export function sameIdentity(p: EngineParts, s: Session, identity: string | undefined): boolean {
  if (identity === undefined) return true; // nothing to tell them apart
  const id = resolveIdentity(p.config, s.mac, identity);
  return !("reason" in id) && id.nai === s.nai;
}

/** The release took the held frames (`n`, sent on by the caller): the session is let go next. */
export function forwardedAway(p: EngineParts, s: Session, n: number): void {
  s.away = false;
  p.timers.disarm(s, "leaveHold");
  p.counters.leaveHoldsForwarded++;
  p.counters.framesLeaveHeldForwarded += n;
  ended(p, s.mac, "forwarded", n);
}

/** The window ran out ("expired": the session deregisters next) or the session ends otherwise: held frames dropped. */
export function dropAway(p: EngineParts, s: Session, outcome: "expired" | "ended"): void {
  s.away = false;
  p.timers.disarm(s, "leaveHold");
  p.hold.drain(s.held);
  const n = s.heldDownlink ? p.hold.drain(s.heldDownlink).length : 0;
  s.heldDownlink = null;
  ended(p, s.mac, outcome, n);
}

/** The HA revoked an away session's binding: its held frames wait for a release until the window's end. */
export function revokedAway(p: EngineParts, now: number, s: Session): void {
  if (!s.away) return;
  const until = p.timers.at(s, "leaveHold");
  s.away = false;
  p.timers.disarm(s, "leaveHold");
  p.counters.leaveHoldsRevoked++;
  const held = s.heldDownlink ?? { frames: NO_FRAMES, bytes: 0 };
  s.heldDownlink = null;
  p.leaveHolds.add(now, { mac: s.mac, homeAgent: s.realm.homeAgent, careOf: { address: s.careOf.address, greKey: s.careOf.greKey }, until, held });
}

/** A downlink packet for a revoked away session (from its HA, to its CoA/key): held (true), or not one (false). */
export function holdRevokedAway(p: EngineParts, now: number, t: TunnelPacket): boolean {
  if (p.leaveHolds.size === 0) return false;
  const e = p.leaveHolds.find(now, t.outerDst, t.greKey);
  if (!e || t.outerSrc !== e.homeAgent || t.outerDst !== e.careOf.address) return false;
  counted(p, p.hold.hold(e.held, t.packet));
  return true;
}

/** A release of a revoked away session: its held frames go to `send` (the new AN). */
export function releaseRevokedAway(p: EngineParts, now: number, mac: string, send: (packet: Uint8Array) => void): void {
  const e = p.leaveHolds.findMac(now, mac);
  if (!e) return;
  p.leaveHolds.take(e);
  const frames = p.hold.drain(e.held);
  for (const f of frames) send(f);
  p.counters.leaveHoldsForwarded++;
  p.counters.framesLeaveHeldForwarded += frames.length;
  ended(p, mac, "forwarded", frames.length, true);
}

function ended(p: EngineParts, mac: string, outcome: "forwarded" | "returned" | "expired" | "ended", frames: number, revoked = false): void {
  if (outcome === "expired" || outcome === "ended") {
    p.counters.framesLeaveHeldDropped += frames;
    if (outcome === "expired") p.counters.leaveHoldsExpired++;
    else p.counters.leaveHoldsEnded++;
  }
  p.outbox.emit({ type: "leave-hold-ended", mac, outcome, frames, ...(revoked ? { revoked: true as const } : {}) });
}

function counted(p: EngineParts, dropped: HoldDropReason | undefined): void {
  const c = p.counters;
  switch (dropped) {
    case undefined:
      c.framesLeaveHeld++;
      return;
    case "per-mn-frames":
      c.leaveHoldDropPerMnFrames++;
      return;
    case "per-mn-bytes":
      c.leaveHoldDropPerMnBytes++;
      return;
    case "total-frames":
      c.leaveHoldDropTotalFrames++;
      return;
    case "total-bytes":
      c.leaveHoldDropTotalBytes++;
      return;
  }
}
