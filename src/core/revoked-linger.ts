// Issue 9 item 1: what a revoked session leaves behind for a moment. The HA sends
// the defending NA down the tunnel and the revocation on UDP 434 back to back
// (draft 3.2.4); the AN reads the two sockets separately and may handle the
// revocation first. Rather than drop what the HA already sent, the session's
// downlink identity lingers for a short, configured time: packets from its HA to
// its CoA (or GRE key) are still delivered to the MN, and an NA for an address the
// MN was probing still turns the revocation into a DAD failure. Memory is bounded:
// at most `maxEntries`, the oldest dropped first, each for a fixed time.
import type { CareOf } from "./care-of.ts";

export interface LingeringSession {
  readonly mac: string;
  readonly macBytes: Uint8Array;
  readonly homeAgent: number;
  readonly careOf: CareOf;
  readonly haLinkLayer: Uint8Array | null;
  /** DAD targets the MN was probing when the revocation came. */
  readonly dadTargets: readonly string[];
  readonly revocationId: number;
  /** The revocation was already judged a DAD failure (the NA came first). */
  dadFailure: boolean;
  readonly until: number;
}

export class RevokedLinger {
  private readonly byCoa = new Map<number, LingeringSession>();
  private readonly byKey = new Map<number, LingeringSession>();
  private readonly byMac = new Map<string, LingeringSession>();
  /** All entries, oldest first (insertion order = expiry order for one linger time). */
  private readonly entries = new Set<LingeringSession>();

  constructor(private maxEntries: number) {}

  setMaxEntries(n: number): void {
    this.maxEntries = n;
  }

  get size(): number {
    return this.entries.size;
  }

  add(now: number, e: LingeringSession): void {
    this.sweep(now);
    const index = e.careOf.greKey !== null ? this.byKey : this.byCoa;
    const key = e.careOf.greKey ?? e.careOf.address;
    const old = index.get(key);
    if (old) this.remove(old);
    index.set(key, e);
    const sameMac = this.byMac.get(e.mac);
    if (sameMac) this.remove(sameMac);
    this.byMac.set(e.mac, e);
    this.entries.add(e);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.values().next();
      if (oldest.done) break;
      this.remove(oldest.value);
    }
  }

  /** The lingering session a downlink packet belongs to, if any and not yet expired. */
  find(now: number, outerDst: number, greKey: number | null): LingeringSession | undefined {
    const e = greKey !== null ? this.byKey.get(greKey) : this.byCoa.get(outerDst);
    if (!e) return undefined;
    if (e.until < now) {
      this.remove(e);
      return undefined;
    }
    return e;
  }

  /**
   * Whether a new session for `mac` must wait: its revoked session lingers with DAD
   * probes unanswered, so the revocation may yet turn out a DAD failure (its NA still
   * on the way). A session started now would get service the hold-off then denies.
   */
  holdsStart(now: number, mac: string): boolean {
    const e = this.byMac.get(mac);
    if (!e) return false;
    if (e.until < now) {
      this.remove(e);
      return false;
    }
    return !e.dadFailure && e.dadTargets.length > 0;
  }

  private sweep(now: number): void {
    for (const e of this.entries) {
      if (e.until >= now) return;
      this.remove(e);
    }
  }

  private remove(e: LingeringSession): void {
    this.entries.delete(e);
    if (this.byMac.get(e.mac) === e) this.byMac.delete(e.mac);
    const index = e.careOf.greKey !== null ? this.byKey : this.byCoa;
    const key = e.careOf.greKey ?? e.careOf.address;
    if (index.get(key) === e) index.delete(key);
  }
}
