// The new AN's accept table for forwarded handover traffic (handover-forward.ts):
// after a handover in, 6in4 from the old AN's care-of address for one of the MN's
// addresses is taken for a while. One window per session (MAC), found by any of
// its addresses. Bounded in sessions, not addresses (a session has at most
// maxLearnedAddresses of them): at most `maxWindows` live windows; a new one when
// all are live is refused (the caller counts it), since the live ones belong to
// handovers still in progress and the MN refused only loses what the old AN
// forwards (its registration is not affected). Expiry is lazy (no timers here).

export interface AcceptWindow {
  readonly mac: string;
  /** The old AN's care-of address (outer source). */
  readonly peer: number;
  /** The new session's care-of address (outer destination). */
  readonly careOf: number;
  /** The MN's IPv6 addresses (inner destinations taken). */
  readonly addresses: readonly string[];
  readonly until: number;
}

export class PeerAccepts {
  /** Windows by MAC, oldest first (insertion order; one window length for all). */
  private readonly byMac = new Map<string, AcceptWindow>();
  private readonly byAddress = new Map<string, AcceptWindow>();

  constructor(private maxWindows: number) {}

  setMaxWindows(n: number): void {
    this.maxWindows = n;
  }

  /** Windows held (live or not yet swept). */
  get size(): number {
    return this.byMac.size;
  }

  /** Opens (or renews: the same MAC's window is replaced) `w`; false when refused: every window live and the table full. */
  open(now: number, w: AcceptWindow): boolean {
    this.sweep(now);
    const old = this.byMac.get(w.mac);
    if (old) this.remove(old);
    if (this.byMac.size >= this.maxWindows) return false;
    this.byMac.set(w.mac, w);
    // An address another window also names (a reused address): the newer handover takes it.
    for (const a of w.addresses) this.byAddress.set(a, w);
    return true;
  }

  /** The live window taking packets for `address`, if any. */
  find(now: number, address: string): AcceptWindow | undefined {
    const w = this.byAddress.get(address);
    if (w && w.until < now) {
      this.remove(w);
      return undefined;
    }
    return w;
  }

  private sweep(now: number): void {
    for (const w of this.byMac.values()) {
      if (w.until >= now) return;
      this.remove(w);
    }
  }

  private remove(w: AcceptWindow): void {
    if (this.byMac.get(w.mac) === w) this.byMac.delete(w.mac);
    for (const a of w.addresses) if (this.byAddress.get(a) === w) this.byAddress.delete(a);
  }
}
