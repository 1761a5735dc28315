// The registration client of one AN (draft 3.2.2 steps 4-6, RFC 5944 3.6):
// sends and resends Registration Requests, the cleanup deregistration, and turns
// replies into state-machine inputs. It decides nothing about states itself:
// `classifyReply` (transitions.ts) says which input a reply is; this file
// verifies, counts, records what the reply granted and hands the input back.
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { verifyMnHaAuth } from "../wire/mip-auth.ts";
import { isRegistrationAccepted, replyCodeName } from "../wire/mip-codes.ts";
import { clockOffsetFromMismatch, nextIdentification, replyMatchesRequest, resyncedIdentification } from "../wire/mip-identification.ts";
import { parseRegistrationReply } from "../wire/mip-registration.ts";
import type { MipExtension, RegistrationReply } from "../wire/mip-types.ts";
import { MIP_UDP_PORT } from "../wire/mip-types.ts";
import { retransmitTimeoutMs } from "./backoff.ts";
import type { EngineParts, SessionStep } from "./engine-parts.ts";
import { renewalRetryTimeoutMs } from "./outage-retry.ts";
import type { Session } from "./session.ts";
import { registrationRequest, signedRegistrationRequest } from "./signalling-messages.ts";
import { classifyReply } from "./transitions.ts";
import type { SessionInput } from "./transitions.ts";

export class RegistrationClient {
  /** What each HA's clock is off by, learned from 133 replies: new sessions start with it. */
  private readonly haClockOffsets = new Map<number, number>();

  constructor(private readonly p: EngineParts) {}

  clockOffsetFor(homeAgent: number): number {
    return this.haClockOffsets.get(homeAgent) ?? 0;
  }

  /** The next request of the registration in flight (lifetime 0 when deregistering); arms the retransmit timer. */
  sendRequest(now: number, s: Session): void {
    const { config, counters } = this.p;
    const deregistering = s.state === "deregistering";
    s.attempts++;
    s.lastRequestAt = now;
    const previous = s.lastIdentification;
    const wall = now + this.p.wallOffsetMs;
    s.lastIdentification =
      s.resyncFloorReset && previous !== undefined
        ? resyncedIdentification(wall, s.clockOffsetMs, previous, this.p.random.uint32(), s.idFloor) // issue 9 item 5
        : nextIdentification(wall, s.clockOffsetMs, previous, this.p.random.uint32());
    s.resyncFloorReset = false;
    this.p.table.rememberIdentification(s, previous);
    const lifetimeS = deregistering ? 0 : config.registration.lifetimeS;
    const msg = registrationRequest({
      homeAddress: s.homeAddress, // issue 9 item 5: RFC 5944 3.6.1.2
      nai: s.nai,
      homeAgent: s.realm.homeAgent,
      careOf: s.careOf.address,
      greKey: s.careOf.greKey,
      lifetimeS,
      identification: s.lastIdentification,
      initial: s.state === "registering",
      revocationSupport: config.revocationSupport,
      revocationTimestamp: Math.floor((now + this.p.wallOffsetMs) / 1000) >>> 0,
    });
    const bytes = signedRegistrationRequest(msg, config.codec, s.realm.mnHaKey);
    this.p.outbox.push({ kind: "send-signalling", from: s.careOf.address, to: s.realm.homeAgent, toPort: MIP_UDP_PORT, bytes });
    counters.requestsSent++;
    if (s.attempts > 1) counters.retransmissions++;
    if (deregistering) counters.deregistrationsSent++;
    this.p.outbox.emit({
      type: "registration-sent",
      mac: s.mac,
      attempt: s.attempts,
      lifetime: lifetimeS,
      initial: s.state === "registering",
      identification: s.lastIdentification.toString(),
    });
    // issue 9 item 3: a renewal's retries outlive an HA outage (outage-retry.ts).
    const timeout = s.state === "renewing" ? renewalRetryTimeoutMs : retransmitTimeoutMs;
    const timeoutAt = now + timeout(config.registration, s.attempts, this.p.random);
    this.p.timers.only(s, "retransmit", timeoutAt);
    this.p.registrationStats.sent(s, now, timeoutAt);
    // The binding's expiry is noted when it comes (the lifecycle's expiry timer); the ladder goes on.
    if (s.state === "renewing" && s.expiresAt !== undefined && s.expiresAt > now) this.p.timers.set(s, "expiry", s.expiresAt);
  }

  /** The retransmit timer fired: resend, or give up when the tries are spent. */
  retransmitDue(s: Session): SessionInput {
    const t = this.p.config.registration;
    switch (s.state) {
      case "registering":
        if (s.attempts < t.maxTries) return "timeout-retry";
        this.p.counters.registrationTimeouts++;
        this.p.outbox.emit({ type: "registration-timeout", mac: s.mac, attempts: s.attempts });
        return "timeout-give-up";
      case "deregistering":
        return s.attempts >= t.deregistrationTries ? "timeout-give-up" : "timeout-retry";
      default:
        // Renewing: on through an HA outage (the lifecycle decides when it ends, issue 9 item 3).
        return "timeout-retry";
    }
  }

  /** The lifetime-0 request for a binding the HA made that we will not use; no retries. */
  sendCleanupDeregistration(now: number, s: Session): void {
    const previous = s.lastIdentification;
    const id = nextIdentification(now + this.p.wallOffsetMs, s.clockOffsetMs, previous, this.p.random.uint32());
    s.lastIdentification = id;
    s.lastRequestAt = now;
    this.p.table.rememberIdentification(s, previous);
    const msg = registrationRequest({
      homeAddress: s.homeAddress, // issue 9 item 5: RFC 5944 3.6.1.2
      nai: s.nai,
      homeAgent: s.realm.homeAgent,
      careOf: s.careOf.address,
      greKey: s.careOf.greKey,
      lifetimeS: 0,
      identification: id,
      initial: false,
      revocationSupport: false,
      revocationTimestamp: 0,
    });
    const bytes = signedRegistrationRequest(msg, this.p.config.codec, s.realm.mnHaKey);
    this.p.outbox.push({ kind: "send-signalling", from: s.careOf.address, to: s.realm.homeAgent, toPort: MIP_UDP_PORT, bytes });
    this.p.counters.requestsSent++;
    this.p.counters.deregistrationsSent++;
    this.p.registrationStats.sent(s, now, Infinity); // sent once: no timeout to count
    // issue 9 item 5: the cleanup deregistration is an event like every request.
    this.p.outbox.emit({ type: "registration-sent", mac: s.mac, attempt: 1, lifetime: 0, initial: false, identification: id.toString(), cleanup: true });
  }

  /** A Registration Reply: the session's next input, or undefined when it is dropped or needs none. */
  onReply(now: number, from: number, bytes: Uint8Array): SessionStep | undefined {
    const { counters, outbox } = this.p;
    counters.repliesReceived++;
    const parsed = parseRegistrationReply(bytes, this.p.config.codec);
    if (!parsed.ok) {
      counters.repliesMalformed++;
      outbox.emit({ type: "malformed", what: "registration-reply", from: formatIpv4(from), error: `${parsed.error.kind} at ${parsed.error.at}: ${parsed.error.detail}` });
      return undefined;
    }
    const reply = parsed.value.message;
    const nai = findNai(reply.extensions);
    // RFC 2794: the HA repeats the NAI; without it, fall back to the identification.
    const s = nai !== undefined ? this.p.table.byNai.get(nai) : this.p.table.findByIdentification(reply.identification);
    if (!s || s.lastIdentification === undefined || !replyMatchesRequest(s.lastIdentification, reply.identification)) {
      counters.repliesUnmatched++;
      return undefined;
    }
    if (from !== s.realm.homeAgent) {
      counters.repliesForged++;
      outbox.emit({ type: "forged", what: "reply", from: formatIpv4(from), reason: "not from the MN's home agent" });
      return undefined;
    }
    const auth = verifyMnHaAuth(bytes, parsed.value, s.realm.mnHaKey);
    if (!auth.ok) {
      counters.repliesForged++;
      outbox.emit({ type: "forged", what: "reply", from: formatIpv4(from), reason: `MN-HA authentication ${auth.reason}` });
      return undefined;
    }
    // Authentic: counted by code whatever it leads to (issue 10).
    this.p.registrationStats.replied(s, from, reply.code, now);
    const accepted = isRegistrationAccepted(reply.code);
    const verdict = classifyReply(
      { state: s.state, cleanupDue: s.cleanupDue, resyncFloorReset: s.resyncFloorReset, attempts: s.attempts, resynced: s.resynced, sharedCoa: s.careOf.greKey !== null },
      {
        accepted,
        code: reply.code,
        lifetimeS: Math.min(reply.lifetime, this.p.config.registration.lifetimeS),
        ipv6HomeAddress: reply.extensions.some((e) => e.kind === "ipv6-hoa"),
        greKey: reply.extensions.some((e) => e.kind === "gre-key"),
      },
    );
    switch (verdict.why) {
      case "cleanup-accepted":
        counters.repliesAccepted++;
        s.haConfirmedRelease = true;
        return undefined;
      case "not-awaiting":
      case "resend-pending":
      case "superseded":
        counters.repliesUnmatched++;
        return undefined;
      case "resync":
        s.resynced = true;
        s.resyncFloorReset = true;
        s.clockOffsetMs = clockOffsetFromMismatch(reply.identification, now + this.p.wallOffsetMs);
        this.haClockOffsets.set(s.realm.homeAgent, s.clockOffsetMs);
        counters.identificationResyncs++;
        outbox.emit({ type: "identification-resync", mac: s.mac, offsetMs: s.clockOffsetMs });
        // A resync resends (after the 1 s floor); it does not consume a retransmission try.
        s.attempts--;
        return { session: s, input: verdict.input };
      case "denied":
        return this.denied(s, reply.code, replyCodeName(reply.code));
    }
    // Accepted, whatever we make of it.
    counters.repliesAccepted++;
    s.idFloor = s.lastIdentification; // issue 9 item 5: the HA accepted it; later ids must exceed it
    if (s.state === "deregistering") s.haConfirmedRelease = true;
    else this.recordGrant(s, reply);
    switch (verdict.why) {
      case "ha-lacks-v6-over-v4":
      case "ha-refused-gre-key":
        counters.noService++;
        outbox.emit({ type: "no-service", mac: s.mac, nai: s.nai, reason: verdict.why });
        // The HA made a binding we will not use: take it down again, 1 s after our
        // request (RFC 5944 3.6.3).
        s.cleanupDue = true;
        return { session: s, input: verdict.input };
      case "zero-lifetime":
        return this.denied(s, reply.code, "accepted-with-zero-lifetime");
      case "accepted":
        return { session: s, input: verdict.input, reason: "deregistered" };
    }
  }

  private denied(s: Session, code: number, codeName: string): SessionStep {
    this.p.counters.repliesDenied++;
    this.p.outbox.emit({ type: "registration-denied", mac: s.mac, code, codeName });
    // An authenticated denial of a new registration: the HA holds no binding for it,
    // so the CoA needs no quarantine (else one refused MN could drain the pool).
    if (s.state === "registering") s.haConfirmedRelease = true;
    return { session: s, input: "denied", reason: "denied" };
  }

  /** What an accepted registration or refresh granted. */
  private recordGrant(s: Session, reply: RegistrationReply): void {
    s.grantedLifetimeS = Math.min(reply.lifetime, this.p.config.registration.lifetimeS);
    s.homeAddress = reply.homeAddress;
    const key = reply.extensions.find((e): e is Extract<MipExtension, { kind: "gre-key" }> => e.kind === "gre-key");
    if (key && key.key !== s.uplinkKey) {
      s.uplinkKey = key.key;
      s.tunnel = undefined;
    }
    const support = reply.extensions.find((e): e is Extract<MipExtension, { kind: "revocation-support" }> => e.kind === "revocation-support");
    if (support) s.haRevocationFloor = support.timestamp;
  }
}

export function findNai(extensions: readonly MipExtension[]): string | undefined {
  for (const e of extensions) if (e.kind === "mn-nai") return e.nai;
  return undefined;
}
