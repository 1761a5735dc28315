// Per-key token buckets (RFC 4443 2.4 (f): ICMPv6 error messages are rate limited,
// a token bucket suggested). Used per MN for the AN's Packet Too Big messages: a
// burst of `burst`, then `perSecond`. Keys are dropped by forget() (unbind) and the
// table is bounded: past `maxKeys` it starts over (every key gets a full bucket).

export class TokenBuckets<K> {
  private readonly buckets = new Map<K, { tokens: number; at: number }>();

  constructor(
    readonly burst: number,
    readonly perSecond: number,
    private readonly maxKeys = 65536,
  ) {}

  /** Takes one token for `key` at monotonic `now` (ms); false when none is left. */
  take(key: K, now: number): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.buckets.clear();
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  forget(key: K): void {
    this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}
