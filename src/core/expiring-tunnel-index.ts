// Short-lived entries found by a downlink packet's outer header: by GRE key, else by
// care-of address, and by MAC. What a session leaves behind when it ends (a revoked
// session lingering, revoked-linger.ts; a released one forwarding to the new AN,
// handover-forward.ts) is kept here. Memory is bounded: at most `maxEntries`, the
// oldest dropped first; expiry is lazy (no timers: the core has none). `onDrop`
// hears of every entry that goes without being taken (expired, replaced, capped).
import type { CareOf } from "./care-of.ts";

export interface TunnelIndexed {
  readonly mac: string;
  readonly careOf: CareOf;
  readonly until: number;
}

export class ExpiringTunnelIndex<E extends TunnelIndexed> {
  private readonly byCoa = new Map<number, E>();
  private readonly byKey = new Map<number, E>();
  private readonly byMac = new Map<string, E>();
  /** All entries, oldest first (insertion order = expiry order for one window length). */
  private readonly entries = new Set<E>();

  constructor(
    private maxEntries: number,
    private readonly onDrop?: (e: E) => void,
  ) {}

  setMaxEntries(n: number): void {
    this.maxEntries = n;
  }

  get size(): number {
    return this.entries.size;
  }

  /** When the oldest entry (most often the earliest of all) is past its time and sweep drops it; undefined when empty. */
  get firstOver(): number | undefined {
    const first = this.entries.values().next();
    return first.done ? undefined : first.value.until + 1; // live through `until`
  }

  /** Adds `e` (replacing one with the same CoA/key or MAC); returns how many were dropped for the cap. */
  add(now: number, e: E): number {
    this.sweep(now);
    const old = this.indexOf(e).get(keyOf(e));
    if (old) this.drop(old);
    this.indexOf(e).set(keyOf(e), e);
    const sameMac = this.byMac.get(e.mac);
    if (sameMac) this.drop(sameMac);
    this.byMac.set(e.mac, e);
    this.entries.add(e);
    let dropped = 0;
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.values().next();
      if (oldest.done) break;
      this.drop(oldest.value);
      dropped++;
    }
    return dropped;
  }

  /** The live entry a downlink packet belongs to, if any. */
  find(now: number, outerDst: number, greKey: number | null): E | undefined {
    if (this.entries.size === 0) return undefined;
    return this.live(now, greKey !== null ? this.byKey.get(greKey) : this.byCoa.get(outerDst));
  }

  /** The live entry of `mac`, if any. */
  findMac(now: number, mac: string): E | undefined {
    return this.live(now, this.byMac.get(mac));
  }

  private live(now: number, e: E | undefined): E | undefined {
    if (!e) return undefined;
    if (e.until < now) {
      this.drop(e);
      return undefined;
    }
    return e;
  }

  /** Takes `e` out (its owner is done with it): onDrop is not told. */
  take(e: E): void {
    this.remove(e);
  }

  /** Drops the entries whose time is up (told to onDrop). */
  sweep(now: number): void {
    for (const e of this.entries) {
      if (e.until >= now) return;
      this.drop(e);
    }
  }

  private drop(e: E): void {
    if (!this.entries.has(e)) return;
    this.remove(e);
    this.onDrop?.(e);
  }

  private indexOf(e: E): Map<number, E> {
    return e.careOf.greKey !== null ? this.byKey : this.byCoa;
  }

  private remove(e: E): void {
    this.entries.delete(e);
    if (this.byMac.get(e.mac) === e) this.byMac.delete(e.mac);
    const index = this.indexOf(e);
    if (index.get(keyOf(e)) === e) index.delete(keyOf(e));
  }
}

function keyOf(e: TunnelIndexed): number {
  return e.careOf.greKey ?? e.careOf.address;
}
