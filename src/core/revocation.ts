// Registration Revocation from the HA (RFC 3543, draft Figure 7): verification,
// replay memory, acknowledgements, and the memory of bindings released recently
// (still owed an acknowledgement). It hands a verified revocation of a live
// binding back to the engine, which ends the session.
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { verifyMnHaAuth } from "../wire/mip-auth.ts";
import { parseRegistrationRevocation } from "../wire/mip-revocation.ts";
import type { CareOf } from "./care-of.ts";
import type { RealmConfig } from "./config.ts";
import type { EngineParts } from "./engine-parts.ts";
import { findNai } from "./registration-client.ts";
import type { Session } from "./session.ts";
import { signedRevocationAcknowledgment } from "./signalling-messages.ts";

/** A binding the engine let go of, kept a minute to acknowledge a late revocation. */
interface ReleasedBinding {
  readonly nai: string;
  readonly mac: string;
  readonly realm: RealmConfig;
  readonly careOf: CareOf;
  readonly haRevocationFloor: number | undefined;
  readonly until: number;
}

const RELEASED_MEMORY_MS = 60_000;

export interface Revoked {
  readonly session: Session;
  /** The HA defended the MN's DAD probe shortly before: the station is to be detached (draft 3.2.4). */
  readonly dadFailure: boolean;
  readonly revocationId: number;
}

export class RevocationHandler {
  /**
   * Newest revocation identifier accepted per home agent and NAI. RFC 3543 3.5
   * judges replay against earlier revocations "from the same agent", so this
   * outlives the session a revocation ended: a captured revocation replayed at
   * the MN's next binding (same NAI, often the same CoA) must not end it too.
   */
  private readonly revocationIds = new Map<string, { readonly id: number; readonly ack: Uint8Array }>();
  /** Bindings released recently, by NAI: a revocation for them is still acknowledged. */
  private readonly released = new Map<string, ReleasedBinding>();

  constructor(private readonly p: EngineParts) {}

  /** A session ended: remember its binding for a minute (bounded). */
  rememberReleased(now: number, s: Session): void {
    this.released.delete(s.nai);
    this.released.set(s.nai, { nai: s.nai, mac: s.mac, realm: s.realm, careOf: s.careOf, haRevocationFloor: s.haRevocationFloor, until: now + RELEASED_MEMORY_MS });
    if (this.released.size > this.p.config.maxSessions) {
      const oldest = this.released.keys().next();
      if (!oldest.done) this.released.delete(oldest.value);
    }
  }

  /** A Registration Revocation: acknowledged when genuine; the live session it ends, if any. */
  onRevocation(now: number, from: number, fromPort: number, local: number, bytes: Uint8Array): Revoked | undefined {
    const { counters, outbox, config } = this.p;
    counters.revocationsReceived++;
    const parsed = parseRegistrationRevocation(bytes, config.codec);
    if (!parsed.ok) {
      counters.revocationsMalformed++;
      outbox.emit({ type: "malformed", what: "registration-revocation", from: formatIpv4(from), error: `${parsed.error.kind} at ${parsed.error.at}: ${parsed.error.detail}` });
      return undefined;
    }
    const rev = parsed.value.message;
    const nai = findNai(rev.extensions);
    const s = nai !== undefined ? this.p.table.byNai.get(nai) : this.p.table.byCoa.get(rev.foreignDomainAddress);
    // A binding we already let go (handover, expiry) is still owed an acknowledgement
    // (RFC 3543 3.4; draft Figure 7 step 6), so recently released ones are remembered.
    // A live session on another CoA (the MN came back) does not own a revocation of the old one.
    const live = s && s.careOf.address === rev.foreignDomainAddress ? s : undefined;
    const released = !live && nai !== undefined ? this.releasedBinding(now, nai) : undefined;
    const target = live ?? released ?? s;
    if (!target) {
      counters.revocationsUnmatched++;
      return undefined;
    }
    // RFC 3543 3.3: from the home agent (A bit set), naming this binding.
    const forged = (reason: string): undefined => {
      counters.revocationsForged++;
      outbox.emit({ type: "forged", what: "revocation", from: formatIpv4(from), reason });
      return undefined;
    };
    if (from !== target.realm.homeAgent || rev.homeDomainAddress !== target.realm.homeAgent) return forged("not from the MN's home agent");
    if (!rev.aBit) return forged("A bit clear: not sent by a home agent");
    if (rev.foreignDomainAddress !== target.careOf.address) return forged("names another care-of address");
    const auth = verifyMnHaAuth(bytes, parsed.value, target.realm.mnHaKey);
    if (!auth.ok) return forged(`MN-HA authentication ${auth.reason}`);
    // RFC 3543 3.5: the identifier is the HA's timestamp. The same one again is a
    // retransmission whose acknowledgement was lost: acknowledge it again. An older
    // one, or one older than the timestamp the HA gave in its reply for this
    // binding (the same clock, 3.3), is a replay.
    const replayKey = `${target.realm.homeAgent}/${target.nai}`;
    const last = this.revocationIds.get(replayKey);
    if (last !== undefined && rev.revocationId === last.id) {
      outbox.push({ kind: "send-signalling", from: local, to: from, toPort: fromPort, bytes: last.ack }); // issue 9 item 5
      counters.acknowledgementsResent++;
      return undefined;
    }
    if ((last !== undefined && rev.revocationId < last.id) || (target.haRevocationFloor !== undefined && rev.revocationId < target.haRevocationFloor)) {
      counters.revocationsReplayed++;
      return undefined;
    }
    const ack = signedRevocationAcknowledgment(
      { iBit: false, homeAddress: rev.homeAddress, revocationId: rev.revocationId, extensions: [{ kind: "mn-nai", nai: target.nai }] },
      config.codec,
      target.realm.mnHaKey,
    );
    // Re-insert so the Map's order is least recently revoked first; bounded.
    this.revocationIds.delete(replayKey);
    this.revocationIds.set(replayKey, { id: rev.revocationId, ack });
    if (this.revocationIds.size > Math.max(1024, 2 * config.maxSessions)) {
      const oldest = this.revocationIds.keys().next();
      if (!oldest.done) this.revocationIds.delete(oldest.value);
    }
    // issue 9 item 5: the acknowledgement leaves from the address the revocation was sent to.
    outbox.push({ kind: "send-signalling", from: local, to: from, toPort: fromPort, bytes: ack });
    counters.acknowledgementsSent++;
    if (!s || target !== s) {
      // Only an acknowledgement is owed: the binding is already gone (or the MN has a newer one).
      // The HA says so: its CoA need not rest until the binding would have run out
      // (a handed-over session's did: an MN flapping between two APs used up the old
      // AN's pool, one address per return, and was refused coa-exhausted).
      // Not before its forward window is over either: that entry still claims the CoA (the
      // datapath tells tunnels apart by CoA), and another MN on it would have its downlink
      // matched to the old MN's entry (on to the AN it went to, or to it back here).
      if (released && target === released) {
        const f = this.p.handoverForward.forwards.find(now, released.careOf.address, released.careOf.greKey);
        const window = f && f.mac === released.mac ? f.until - now : 0;
        this.p.careOf.confirmGone(released.careOf, now, Math.max(config.revocationLingerMs, window));
      }
      outbox.emit({ type: "revoked", mac: target.mac, revocationId: rev.revocationId, dadFailure: false });
      return undefined;
    }
    s.lastRevocationId = rev.revocationId;
    const dadFailure = s.dadDefendedAt !== undefined && now - s.dadDefendedAt <= config.dadFailureWindowMs;
    outbox.emit({ type: "revoked", mac: s.mac, revocationId: rev.revocationId, dadFailure });
    s.haConfirmedRelease = true;
    // issue 9 item 1: the session lingers to deliver what the HA already sent (its NA).
    if (config.revocationLingerMs > 0) {
      s.minQuarantineMs = config.revocationLingerMs;
      this.p.linger.add(now, {
        mac: s.mac,
        macBytes: s.macBytes,
        homeAgent: s.realm.homeAgent,
        careOf: s.careOf,
        haLinkLayer: s.haLinkLayer,
        dadTargets: [...s.dadTargets],
        // Only probes an NA could still be answering hold a new start back (revoked-linger.ts).
        probedRecently: now - s.lastDadProbeAt <= config.revocationLingerMs,
        revocationId: rev.revocationId,
        dadFailure,
        until: now + config.revocationLingerMs,
      });
    }
    return { session: s, dadFailure, revocationId: rev.revocationId };
  }

  /** A binding released within the last minute, for acknowledging a late revocation. */
  private releasedBinding(now: number, nai: string): ReleasedBinding | undefined {
    const r = this.released.get(nai);
    if (!r) return undefined;
    if (r.until < now) {
      this.released.delete(nai);
      return undefined;
    }
    return r;
  }
}
