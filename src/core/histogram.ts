// A fixed-bucket histogram for telemetry (issue 10): registration round trips and
// handover interruptions, in milliseconds. The bounds are fixed at construction so
// that every AN in a fleet reports the same buckets and they can be added up.
// Observations are counted per bucket here; the snapshot is cumulative, as a
// Prometheus histogram is: bucket "le" counts every observation <= le, and "+Inf"
// equals `count`.

/** Upper bounds (ms, inclusive) of the registration round-trip buckets; +Inf is implied. */
export const RTT_BOUNDS_MS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/** Upper bounds (ms, inclusive) of the handover interruption buckets; +Inf is implied. */
export const INTERRUPTION_BOUNDS_MS: readonly number[] = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000];

/** What telemetry publishes: cumulative counts by upper bound ("+Inf" last), the count and the sum (ms). */
export interface HistogramSnapshot {
  readonly le: Readonly<Record<string, number>>;
  readonly count: number;
  readonly sum: number;
}

export class Histogram {
  /** Per bucket (not cumulative); the last one is +Inf. */
  private readonly counts: number[];
  count = 0;
  sum = 0;

  constructor(readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) if (!(bounds[i]! > bounds[i - 1]!)) throw new RangeError("histogram bounds must increase");
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** One observation; a negative or non-finite value (a clock that went back, a bug) goes nowhere. */
  observe(value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += value;
  }

  /** Adds another histogram with the same bounds (folding one key into "other"). */
  add(other: Histogram): void {
    if (other.bounds.length !== this.bounds.length || other.bounds.some((b, i) => b !== this.bounds[i])) throw new RangeError("histogram bounds differ");
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
  }

  snapshot(): HistogramSnapshot {
    const le: Record<string, number> = {};
    let running = 0;
    this.bounds.forEach((b, i) => {
      running += this.counts[i]!;
      le[String(b)] = running;
    });
    le["+Inf"] = this.count;
    // Rounded to the microsecond: sums of sub-millisecond readings need no more digits.
    return { le, count: this.count, sum: Math.round(this.sum * 1000) / 1000 };
  }
}
