// Issue 9 item 2: draft 3.2.4 says that after a DAD-failure revocation "the entry
// process" for the MN must be completely stopped. Detaching the station (when a
// detach command is configured) is not enough: with none, or when the station
// re-associates at once, its next NS would register it again within a second. So
// the MAC is held off: no session starts for it until the hold-off ends. Bounded:
// at most `maxEntries` MACs (the oldest hold-off dropped first).
// `entryRefused` is the engine's one guard before a session starts.
import type { EngineParts } from "./engine-parts.ts";

export class EntryHoldOff {
  private readonly until = new Map<string, number>();

  constructor(private maxEntries: number) {}

  setMaxEntries(n: number): void {
    this.maxEntries = n;
  }

  get size(): number {
    return this.until.size;
  }

  /** Holds `mac` off until `until` (monotonic ms). */
  hold(mac: string, until: number): void {
    this.until.delete(mac);
    this.until.set(mac, until);
    while (this.until.size > this.maxEntries) {
      const oldest = this.until.keys().next();
      if (oldest.done) break;
      this.until.delete(oldest.value);
    }
  }

  /** When the hold-off of `mac` ends, or undefined if it is not held off at `now`. */
  heldUntil(now: number, mac: string): number | undefined {
    const t = this.until.get(mac);
    if (t === undefined) return undefined;
    if (t <= now) {
      this.until.delete(mac);
      return undefined;
    }
    return t;
  }
}

/**
 * Whether a new session for `mac` may not start now (counted and told when refused):
 * not during shutdown (item 5), not while held off after a DAD failure
 * (item 2), not while its revoked session lingers with a probe unanswered (item 1).
 */
export function entryRefused(p: EngineParts, now: number, mac: string): boolean {
  if (p.shuttingDown) return true;
  const heldOff = p.entryHoldOff.heldUntil(now, mac);
  if (heldOff !== undefined) {
    p.counters.refusedEntryHoldOff++;
    p.outbox.emit({ type: "refused", mac, reason: "entry-hold-off", detail: `DAD failure: ${Math.ceil((heldOff - now) / 1000)} s left` });
    return true;
  }
  if (p.linger.holdsStart(now, mac)) {
    // Its revoked session may still become a DAD failure (NA on the way).
    p.counters.refusedRevocationLinger++;
    p.outbox.emit({ type: "refused", mac, reason: "revocation-linger" });
    return true;
  }
  return false;
}
