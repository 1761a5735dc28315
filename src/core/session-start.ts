// A session's start: the checks a new station passes (a real unicast source, no
// hold-off, room, an identity with a key, its NAI not in use elsewhere, the start
// rate, a care-of address), then the first registration. Stations the start rate
// turns away wait their turn in the start queue (start-queue.ts) rather than
// being dropped; the engine wakes this when the next start is due.
import { formatIpv4 } from "../wire/ipv4-address.ts";
import { bytesEqual } from "./engine-parts.ts";
import type { EngineParts } from "./engine-parts.ts";
import { entryRefused } from "./entry-hold-off.ts";
import type { Trigger } from "./events.ts";
import { resolveIdentity } from "./identity.ts";
import type { RegistrationClient } from "./registration-client.ts";
import { newSession } from "./session.ts";
import type { Session } from "./session.ts";
import { StartQueue } from "./start-queue.ts";
import { StartRate } from "./start-rate.ts";

export class SessionStarts {
  private readonly rate = new StartRate();
  private readonly waiting = new StartQueue();

  constructor(
    private readonly p: EngineParts,
    private readonly registration: RegistrationClient,
    /** The identity the link layer gave the station (802.1X), if any. */
    private readonly linkIdentity: (mac: string) => string | undefined,
  ) {}

  /** `frame`: the trigger, kept with the station should the start rate make it wait. */
  start(now: number, mac: string, macBytes: Uint8Array, trigger: Trigger, identity: string | undefined, frame?: Uint8Array): Session | undefined {
    // Already waiting (a link event or the fleet's register-station for a queued station):
    // it keeps its place, so its queued frames go with its session and it starts once.
    if (this.waiting.size > 0 && this.waiting.has(mac)) {
      if (frame) this.waiting.append(mac, frame);
      return undefined;
    }
    return this.startNow(now, mac, macBytes, trigger, identity, frame);
  }

  private startNow(now: number, mac: string, macBytes: Uint8Array, trigger: Trigger, identity: string | undefined, frame?: Uint8Array): Session | undefined {
    const { config, counters, outbox } = this.p;
    // Group-bit sources are not stations (and their downlink would go out as
    // broadcast); our own MAC is a reflection. Neither may own a session.
    if ((macBytes[0]! & 1) !== 0 || bytesEqual(macBytes, config.accessMac)) {
      counters.framesBadSourceMac++;
      return undefined;
    }
    if (entryRefused(this.p, now, mac)) return undefined; // issue 9 items 1, 2, 5
    if (this.p.table.size >= config.maxSessions) {
      counters.refusedSessionCap++;
      outbox.emit({ type: "refused", mac, reason: "session-cap", detail: `${config.maxSessions} sessions` });
      return undefined;
    }
    const id = resolveIdentity(config, mac, identity ?? this.linkIdentity(mac));
    if ("reason" in id) {
      if (id.reason === "nai-too-long") counters.refusedNaiTooLong++;
      else if (id.reason === "no-key") counters.refusedNoKey++;
      else if (id.reason === "no-identity") counters.refusedNoIdentity++;
      else counters.refusedNoRealm++;
      outbox.emit({ type: "refused", mac, reason: id.reason, detail: id.nai });
      return undefined;
    }
    // One NAI, one session: a second MAC claiming the same identity is refused
    // rather than allowed to steal the binding.
    if (this.p.table.byNai.has(id.nai)) {
      counters.refusedNaiInUse++;
      outbox.emit({ type: "refused", mac, reason: "nai-in-use", detail: `NAI ${id.nai} already in use by another station` });
      return undefined;
    }
    // Only a start that would go ahead costs a token: refused stations must not drain it.
    if (!this.rate.take(now, config.sessionStartsPerSecond)) {
      if (this.waiting.add(now, { mac, macBytes, trigger, identity }, frame, StartQueue.capacity(config.sessionStartsPerSecond, config.maxSessions))) {
        counters.startsQueued++;
        return undefined;
      }
      counters.refusedStartRate++;
      outbox.emit({ type: "refused", mac, reason: "start-rate", detail: `${config.sessionStartsPerSecond}/s` });
      return undefined;
    }
    const coa = this.p.careOf.allocate(now, id.nai); // issue 9 item 3: its own quarantined CoA back
    if (!coa) {
      counters.refusedCoaExhausted++;
      outbox.emit({ type: "refused", mac, reason: "coa-exhausted" });
      return undefined;
    }
    // No copy: the session keeps the MAC as a number (macKey), not this view of the caller's frame.
    const s = newSession({ mac, macBytes, nai: id.nai, identitySource: id.source, realm: id.realm, careOf: coa, now });
    s.clockOffsetMs = this.registration.clockOffsetFor(id.realm.homeAgent);
    this.p.table.add(s);
    counters.sessionsStarted++;
    outbox.emit({ type: "session-started", mac, nai: id.nai, identitySource: id.source, trigger, careOf: formatIpv4(coa.address), greKey: coa.greKey });
    this.registration.sendRequest(now, s);
    return s;
  }

  /** A frame from a station waiting for its start goes with it (true); false: not waiting. */
  waitingFrame(mac: string, frame: Uint8Array): boolean {
    return this.waiting.size > 0 && this.waiting.append(mac, frame);
  }

  /** When the next waiting station may start (undefined: none waits). */
  nextWaitingAt(): number | undefined {
    return this.waiting.size === 0 ? undefined : this.rate.nextAt(this.p.config.sessionStartsPerSecond);
  }

  /**
   * Starts waiting stations, oldest first, as far as the start rate allows now; `held`
   * takes each one's kept frames; `admissible` re-checks what the frame path checked
   * before the station was queued (802.1X authorisation).
   */
  startWaiting(now: number, held: (s: Session, frame: Uint8Array) => void, admissible: (mac: Uint8Array) => boolean): void {
    const rate = this.p.config.sessionStartsPerSecond;
    this.p.counters.startQueueExpired += this.waiting.expire(now);
    while (this.waiting.size > 0 && this.rate.available(now, rate)) {
      const e = this.waiting.shift()!;
      if (this.p.table.has(e.mac)) continue; // started meanwhile (an import, a link event)
      if (!admissible(e.macBytes)) continue;
      this.p.counters.startsDequeued++;
      const s = this.startNow(now, e.mac, e.macBytes, e.trigger, e.identity, e.frames[0]);
      if (s) for (const f of e.frames) held(s, f);
    }
  }

  /** The station left while waiting: forgotten. */
  leftWaiting(mac: string): void {
    this.waiting.remove(mac);
  }

  clearWaiting(): void {
    this.waiting.clear();
  }
}
