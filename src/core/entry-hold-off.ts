// Issue 9 item 2: draft 3.2.4 says that after a DAD-failure revocation "the entry
// process" for the MN must be completely stopped. Detaching the station (when a
// detach command is configured) is not enough: with none, or when the station
// re-associates at once, its next NS would register it again within a second. So
// the MAC is held off: no session starts for it until the hold-off ends. Bounded:
// at most `maxEntries` MACs (the oldest hold-off dropped first).
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
