// Contexts in and out of the engine: a session as a plain record (handover to
// another AN, the state file across a restart) and a record made a session again.
// engine.ts routes the inputs here; the record format and its checks are context.ts.
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { formatMac, parseMac } from "../wire/mac.ts";
import type { CareOf } from "./care-of.ts";
import { CONTEXT_VERSION, fromHex, toHex } from "./context.ts";
import type { SessionContext } from "./context.ts";
import type { EngineParts } from "./engine-parts.ts";
import type { Forwarding } from "./forwarding.ts";
import { openAcceptFromPeer } from "./handover-forward.ts";
import { realmForNai } from "./identity.ts";
import type { RegistrationClient } from "./registration-client.ts";
import { newSession } from "./session.ts";
import type { Session } from "./session.ts";
import type { SessionLifecycle } from "./session-lifecycle.ts";
import { isForwarding } from "./transitions.ts";

/** The policies an import drives (the engine's own). */
export interface ImportParts {
  readonly lifecycle: SessionLifecycle;
  readonly forwarding: Forwarding;
  readonly registration: RegistrationClient;
}

/** The session as a context record: never a key (the HA's key is the realm's, looked up by NAI on import). */
export function exportSession(now: number, s: Readonly<Session>): SessionContext {
  return {
    version: CONTEXT_VERSION,
    mac: s.mac,
    nai: s.nai,
    homeAgent: s.realm.homeAgent,
    careOf: { address: s.careOf.address, greKey: s.careOf.greKey },
    identification: (s.lastIdentification ?? 0n).toString(),
    clockOffsetMs: s.clockOffsetMs,
    haLinkLayer: s.haLinkLayer ? formatMac(s.haLinkLayer) : null,
    addresses: [...s.addresses],
    remainingLifetimeMs: s.expiresAt !== undefined && isForwarding(s.state) ? Math.max(0, s.expiresAt - now) : 0,
    homeAddress: s.homeAddress,
    heldFrames: s.held.frames.map(toHex),
  };
}

/**
 * A record becomes a session. `resume`: our own record after a restart (its CoA and
 * binding kept while the lifetime lasts, refreshed now, or after at most
 * `holdRefreshMs` when the app checks first: resumeChecked); otherwise a handover in
 * from another AN (register anew at once; its interruption starts at `firstSeenAt`).
 */
export function importSession(
  p: EngineParts,
  parts: ImportParts,
  now: number,
  c: SessionContext,
  resume: boolean,
  firstSeenAt: number | undefined,
  holdRefreshMs = 0,
): void {
  const config = p.config;
  const macBytes = parseMac(c.mac);
  const realm = realmForNai(config, c.nai);
  if (!macBytes || !realm || realm.homeAgent !== c.homeAgent) {
    p.counters.contextsRejected++;
    return;
  }
  const existing = p.table.get(c.mac);
  if (existing) parts.lifecycle.remove(now, existing, "handed-over");
  const other = p.table.byNai.get(c.nai);
  if (other) parts.lifecycle.remove(now, other, "handed-over");
  if (p.table.size >= config.maxSessions) {
    p.counters.refusedSessionCap++;
    p.counters.contextsRejected++;
    p.outbox.emit({ type: "refused", mac: c.mac, reason: "session-cap" });
    return;
  }
  const wanted: CareOf = { address: c.careOf.address, greKey: c.careOf.greKey };
  const keep = resume && c.remainingLifetimeMs > 0 ? p.careOf.claim(wanted) : undefined;
  // As a fresh start: this MN's own quarantined CoA may come back (care-of.ts), e.g. when
  // it returns within a lifetime of leaving and its HA does not revoke (RFC 3543 is optional).
  const coa = keep ?? p.careOf.allocate(now, c.nai);
  if (!coa) {
    p.counters.refusedCoaExhausted++;
    p.counters.contextsRejected++;
    p.outbox.emit({ type: "refused", mac: c.mac, reason: "coa-exhausted" });
    return;
  }
  const s = newSession({ mac: c.mac, macBytes, nai: c.nai, identitySource: "context", realm, careOf: coa, now });
  s.lastIdentification = BigInt(c.identification);
  s.clockOffsetMs = c.clockOffsetMs;
  s.haLinkLayer = c.haLinkLayer === null ? null : parseMac(c.haLinkLayer);
  s.addresses = c.addresses.slice(0, config.maxLearnedAddresses);
  s.homeAddress = c.homeAddress;
  s.idFloor = s.lastIdentification; // issue 9 item 5: it may have been accepted
  s.recorded = true;
  p.table.add(s);
  p.counters.contextsImported++;
  p.counters.sessionsStarted++;
  if (!resume) {
    // Issue 10: a handover in (a restart's own record is not one); its interruption starts when the MN was first heard here.
    p.counters.handoversIn++;
    p.handovers.imported(s, Math.min(now, firstSeenAt ?? now));
  }
  p.outbox.emit({ type: "session-started", mac: s.mac, nai: s.nai, identitySource: "context", trigger: "context-import", careOf: formatIpv4(coa.address), greKey: coa.greKey });
  for (const hex of c.heldFrames) parts.forwarding.holdFrame(s, fromHex(hex));
  if (!resume) openAcceptFromPeer(p, now, s, c.careOf.address);
  if (keep) {
    // Our own binding survived the restart: forward at once, refresh now.
    s.state = "renewing";
    s.initial = false;
    s.expiresAt = now + c.remainingLifetimeMs;
    s.grantedLifetimeS = Math.ceil(c.remainingLifetimeMs / 1000);
    parts.forwarding.startForwarding(now, s);
    if (holdRefreshMs > 0) {
      // The MN may have moved to another AN while we were down (its HA's revocation of
      // us then went unheard): a refresh would take the binding back from that AN
      // (RFC 5944 3.8.2.2, S bit clear). The refresh waits for the app's check, never
      // longer than the hold: the retransmit timer sends it (renewalDue), as a renewal.
      p.resumeHeld.add(s);
      const until = now + holdRefreshMs;
      p.timers.only(s, "retransmit", until);
      p.timers.set(s, "expiry", Math.max(s.expiresAt, until));
      return;
    }
  }
  parts.registration.sendRequest(now, s);
}

/**
 * The app's check of a held resume (import-context holdRefreshMs): refresh now, or,
 * `supersededBy` another AN that bound the MN after our state was saved, drop the
 * session without a request (a deregistration would only delete our own CoA's
 * binding, which the HA already moved). Too late (the hold ran out and the refresh
 * went, or the session ended or changed): nothing.
 */
export function resumeChecked(p: EngineParts, parts: ImportParts, now: number, mac: string, supersededBy: string | undefined): void {
  const s = p.table.get(mac);
  if (!s || !p.resumeHeld.has(s)) return;
  p.resumeHeld.delete(s);
  if (s.state !== "renewing" || s.attempts !== 0) return;
  if (supersededBy === undefined) {
    parts.registration.sendRequest(now, s);
    return;
  }
  p.counters.resumesSuperseded++;
  p.outbox.emit({ type: "resume-superseded", mac: s.mac, by: supersededBy });
  parts.lifecycle.remove(now, s, "superseded");
}
