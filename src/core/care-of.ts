// Care-of addresses (draft 3.2.2 step 3: "the AN MUST acquire the IPv4 address it
// will use as a care-of address"). Either one address per MN from a pool, or one
// shared address with a per-MN GRE key (draft 3.2.1, last paragraph).
import type { CareOfConfig } from "./config.ts";

export interface CareOf {
  readonly address: number;
  /** The GRE key the HA must put on downlink packets for this MN; null in pool mode. */
  readonly greKey: number | null;
}

export class CareOfAllocator {
  /** Free pool addresses, used front first and returned at the back (FIFO). */
  private freeAddresses: number[] = [];
  /**
   * Released CoAs the HA may still hold a binding for (the release was not
   * confirmed): reusing one at once would deliver the old MN's downlink to a new
   * MN. They stay in use until `until` (monotonic ms).
   */
  private quarantine: { coa: CareOf; until: number; owner: string | undefined; lastResort: boolean }[] = [];
  private usedAddresses = new Set<number>();
  private nextKey = 0;
  private usedKeys = new Set<number>();

  constructor(private config: CareOfConfig) {
    this.reset(config);
  }

  get mode(): CareOfConfig["mode"] {
    return this.config.mode;
  }

  /** Applies a new configuration; addresses and keys in use stay in use until released. */
  reset(config: CareOfConfig): void {
    this.config = config;
    if (config.mode === "pool") {
      // Lowest address first, so a restarted AN hands out the same addresses in the same order.
      this.freeAddresses = [...config.addresses].filter((a) => !this.usedAddresses.has(a)).sort((a, b) => a - b);
    } else {
      this.freeAddresses = [];
    }
  }

  allocate(now: number, owner?: string): CareOf | undefined {
    this.endQuarantine(now);
    // Issue 9 item 3: the quarantine keeps a CoA from *another* MN while the HA may
    // still bind it to the old one. The same NAI coming back (its registration timed
    // out while the HA was away) may have it again: the HA's binding, if any, is its
    // own. Without this, one CoA and one MN meant coa-exhausted for a lifetime.
    if (owner !== undefined) {
      const i = this.quarantine.findIndex((q) => q.owner === owner && !q.lastResort);
      if (i >= 0) return this.quarantine.splice(i, 1)[0]!.coa;
    }
    const free = this.allocateFree();
    if (free || owner === undefined) return free;
    // A handed-over MN's CoA, only when nothing else is free (an MN flapping between two
    // APs otherwise used up the pool, one address per return, within a lifetime): a
    // fresh one is better, since a late revocation of the old binding names its CoA.
    const i = this.quarantine.findIndex((q) => q.owner === owner);
    return i >= 0 ? this.quarantine.splice(i, 1)[0]!.coa : undefined;
  }

  private allocateFree(): CareOf | undefined {
    const c = this.config;
    if (c.mode === "pool") {
      const address = this.freeAddresses.shift();
      if (address === undefined) return undefined;
      this.usedAddresses.add(address);
      return { address, greKey: null };
    }
    if (this.usedKeys.size >= c.keyCount) return undefined;
    // Round-robin over the key space so a just-released key is not reused at once
    // (a late downlink packet for the old MN must not reach the new one).
    for (let i = 0; i < c.keyCount; i++) {
      const key = (c.firstKey + ((this.nextKey + i) % c.keyCount)) >>> 0;
      if (!this.usedKeys.has(key)) {
        this.usedKeys.add(key);
        this.nextKey = (this.nextKey + i + 1) % c.keyCount;
        return { address: c.address, greKey: key };
      }
    }
    return undefined;
  }

  /** Claims a specific CoA (restart: the imported context names the one it had), if free. */
  claim(wanted: CareOf): CareOf | undefined {
    const c = this.config;
    if (c.mode === "pool") {
      if (wanted.greKey !== null || this.usedAddresses.has(wanted.address)) return undefined;
      const i = this.freeAddresses.indexOf(wanted.address);
      if (i < 0) return undefined;
      this.freeAddresses.splice(i, 1);
      this.usedAddresses.add(wanted.address);
      return wanted;
    }
    const key = wanted.greKey;
    if (key === null || wanted.address !== c.address || this.usedKeys.has(key)) return undefined;
    if (key < c.firstKey || key >= c.firstKey + c.keyCount) return undefined;
    this.usedKeys.add(key);
    return wanted;
  }

  /**
   * Gives a CoA back. `quarantineMs` > 0 when the HA did not confirm that the
   * binding is gone: the CoA is not handed out again before that much time, except
   * to `owner` (its own binding), at once or (`lastResort`) only when none is free.
   */
  release(coa: CareOf, now = 0, quarantineMs = 0, owner?: string, lastResort = false): void {
    if (quarantineMs > 0) {
      this.quarantine.push({ coa, until: now + quarantineMs, owner, lastResort });
      return;
    }
    this.free(coa);
  }

  /**
   * The HA confirmed a quarantined CoA's binding is gone (a revocation of a binding we
   * had already let go, RFC 3543): it rests only `restMs` more (what is in flight),
   * not until the binding would have run out. Kept in time order (endQuarantine).
   */
  confirmGone(coa: CareOf, now: number, restMs: number): void {
    const i = this.quarantine.findIndex((q) => q.coa.address === coa.address && q.coa.greKey === coa.greKey);
    if (i < 0) return;
    const until = now + restMs;
    const q = this.quarantine[i]!;
    if (q.until <= until) return;
    this.quarantine.splice(i, 1);
    const at = this.quarantine.findIndex((e) => e.until > until);
    this.quarantine.splice(at < 0 ? this.quarantine.length : at, 0, { ...q, until });
    this.endQuarantine(now);
  }

  /**
   * A forward window (handover-forward.ts) claims `coa` until `until`: it is not another
   * MN's before then, whatever its quarantine said (the binding's end, or the linger after
   * a revocation, may come sooner). A quarantined CoA rests longer; a free one is taken
   * back (the same `owner` may still have it when no other is free); one already in
   * use again is left alone.
   */
  restUntil(coa: CareOf, now: number, until: number, owner?: string): void {
    const q = this.quarantine.find((e) => e.coa.address === coa.address && e.coa.greKey === coa.greKey);
    if (q) {
      q.until = Math.max(q.until, until);
      return;
    }
    this.endQuarantine(now);
    if (until > now && this.claim(coa)) this.quarantine.push({ coa, until, owner, lastResort: true });
  }

  get quarantined(): number {
    return this.quarantine.length;
  }

  private endQuarantine(now: number): void {
    // Ordered by release time; lifetimes differ, so a later entry may be due first:
    // it waits for the ones ahead (at most one lifetime longer), which keeps this O(1).
    let n = 0;
    while (n < this.quarantine.length && this.quarantine[n]!.until <= now) n++;
    if (n === 0) return;
    for (const q of this.quarantine.splice(0, n)) this.free(q.coa);
  }

  private free(coa: CareOf): void {
    if (coa.greKey !== null) {
      this.usedKeys.delete(coa.greKey);
      return;
    }
    if (this.usedAddresses.delete(coa.address)) {
      const c = this.config;
      if (c.mode === "pool" && c.addresses.includes(coa.address)) this.freeAddresses.push(coa.address);
    }
  }

  get inUse(): number {
    return this.usedAddresses.size + this.usedKeys.size;
  }
}
