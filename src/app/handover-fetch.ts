// The new AN's half of a handover: a station without a session sends a frame that is
// not a trigger (a moved MN sends no new RS or DAD NS), so the engine reports it
// ("unknown-station") and this asks the fleet for the station's context record. A
// verified record is imported and the engine registers at once; no record (or a
// refused one, or no broker) leaves the station to a fresh registration on its next
// trigger. Bounded so a flood of random MACs cannot become a storm of fetches: a
// token bucket, a cap on fetches in flight, and a per-MAC pause after each attempt.
// Nothing waits for it: frames meanwhile go the engine's usual way.
import type { FetchedContext } from "./fleet-agent.ts";
import { TokenBucket } from "./token-bucket.ts";

export interface HandoverFetchOptions {
  readonly fetch: (mac: string) => Promise<FetchedContext | undefined>;
  /** A verified record: import it (and ask its writer to let the MN go). */
  readonly importContext: (fetched: FetchedContext) => void;
  readonly nowMs: () => number;
  readonly perSecond?: number;
  readonly maxInFlight?: number;
  /** A MAC is not asked for again within this time after an attempt. */
  readonly pauseMs?: number;
  /** Entries in the per-MAC pause table (oldest out). */
  readonly maxRemembered?: number;
}

export interface HandoverFetchStats {
  asked: number;
  imported: number;
  notFound: number;
  rateLimited: number;
  inFlight: number;
}

export class HandoverFetch {
  private readonly bucket: TokenBucket;
  private readonly recent = new Map<string, number>();
  private readonly counters: HandoverFetchStats = { asked: 0, imported: 0, notFound: 0, rateLimited: 0, inFlight: 0 };
  private readonly maxInFlight: number;
  private readonly pauseMs: number;
  private readonly maxRemembered: number;

  constructor(private readonly o: HandoverFetchOptions) {
    const rate = o.perSecond ?? 20;
    this.bucket = new TokenBucket(rate, rate);
    this.maxInFlight = o.maxInFlight ?? 16;
    this.pauseMs = o.pauseMs ?? 5000;
    this.maxRemembered = o.maxRemembered ?? 4096;
  }

  stats(): HandoverFetchStats {
    return { ...this.counters };
  }

  /** The engine heard a non-trigger frame from `mac`, which has no session. */
  unknownStation(mac: string): void {
    const now = this.o.nowMs();
    const last = this.recent.get(mac);
    if (last !== undefined && now - last < this.pauseMs) return;
    if (this.counters.inFlight >= this.maxInFlight || !this.bucket.take(now)) {
      this.counters.rateLimited++;
      return;
    }
    this.recent.delete(mac);
    this.recent.set(mac, now);
    while (this.recent.size > this.maxRemembered) this.recent.delete(this.recent.keys().next().value as string);
    this.counters.asked++;
    this.counters.inFlight++;
    this.o.fetch(mac).then(
      (ctx) => this.done(ctx),
      () => this.done(undefined),
    );
  }

  private done(ctx: FetchedContext | undefined): void {
    this.counters.inFlight--;
    if (!ctx) {
      this.counters.notFound++;
      return;
    }
    this.counters.imported++;
    this.o.importContext(ctx);
  }
}
