// The new AN's half of a handover: a station without a session sends a frame that is
// not a trigger (a moved MN sends no new RS or DAD NS), so the engine reports it
// ("unknown-station") and this asks the fleet for the station's context record. A
// verified record is imported and the engine registers at once; no record (or a
// refused one, or no broker, or no answer in time) is told to `noContext`, which
// registers the station from scratch (the draft's MAY for the first IPv6 frame:
// a moved Linux MN sends no new NS/RS, so waiting for a trigger would strand it). Bounded so a flood of random MACs cannot become a storm of fetches: a
// token bucket, a cap on fetches in flight, and a per-MAC pause after each attempt
// (long after one that found nothing; short after an import, so an MN that moves away
// and back within seconds is fetched again rather than stranded).
// Nothing waits for it: frames meanwhile go the engine's usual way.
import type { FetchedContext } from "./fleet-agent.ts";
import { TokenBucket } from "./token-bucket.ts";

export interface HandoverFetchOptions {
  readonly fetch: (mac: string) => Promise<FetchedContext | undefined>;
  /** A verified record: import it (and ask its writer to let the MN go). `askedAt`: nowMs() of the frame that started the fetch. */
  readonly importContext: (fetched: FetchedContext, askedAt: number) => void;
  /** No verified record came (not found, refused, broker down, timed out). */
  readonly noContext?: (mac: string) => void;
  /** The station's first frame, fed again once the record was imported or the registration started. */
  readonly replay?: (frame: Uint8Array) => void;
  readonly nowMs: () => number;
  readonly perSecond?: number;
  readonly maxInFlight?: number;
  /** A MAC is not asked for again within this time after an attempt that found no record. */
  readonly pauseMs?: number;
  /**
   * ...and within this time after one that imported a record. Short: the MN may move
   * back here within seconds (its session here ended when it left), and a moved Linux MN
   * sends no trigger, so a long pause would strand it until the pause ended. Not zero: an
   * import the engine refused (session cap) must not become a fetch per frame.
   */
  readonly importedPauseMs?: number;
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
  /** Per MAC: no new fetch before this time (nowMs()). */
  private readonly pausedUntil = new Map<string, number>();
  /** MACs with a fetch in flight. */
  private readonly pending = new Set<string>();
  private readonly counters: HandoverFetchStats = { asked: 0, imported: 0, notFound: 0, rateLimited: 0, inFlight: 0 };
  private readonly maxInFlight: number;
  private readonly pauseMs: number;
  private readonly importedPauseMs: number;
  private readonly maxRemembered: number;

  constructor(private readonly o: HandoverFetchOptions) {
    const rate = o.perSecond ?? 20;
    this.bucket = new TokenBucket(rate, rate);
    this.maxInFlight = o.maxInFlight ?? 16;
    this.pauseMs = o.pauseMs ?? 5000;
    this.importedPauseMs = o.importedPauseMs ?? 1000;
    this.maxRemembered = o.maxRemembered ?? 4096;
  }

  stats(): HandoverFetchStats {
    return { ...this.counters };
  }

  /**
   * The engine heard a frame from `mac`, which has no session (`trigger`: an NS/RS,
   * which without the fleet would have started one). The frame is copied: the caller's
   * buffer is reused.
   */
  unknownStation(mac: string, frame?: Uint8Array, trigger = false): void {
    const now = this.o.nowMs();
    const until = this.pausedUntil.get(mac);
    if (until !== undefined && now < until) {
      // A trigger during a pause (after an attempt that found nothing, or an import the engine refused): a fresh registration, as without the fleet
      // (later, not inside the engine's action that told us).
      if (trigger && !this.pending.has(mac)) {
        const kept = frame ? Uint8Array.from(frame) : undefined;
        void Promise.resolve().then(() => {
          this.o.noContext?.(mac);
          if (kept) this.o.replay?.(kept);
        });
      }
      return;
    }
    if (this.counters.inFlight >= this.maxInFlight || !this.bucket.take(now)) {
      this.counters.rateLimited++;
      return;
    }
    this.pause(mac, now + this.pauseMs);
    this.counters.asked++;
    this.counters.inFlight++;
    const kept = frame ? Uint8Array.from(frame) : undefined;
    this.pending.add(mac);
    this.o.fetch(mac).then(
      (ctx) => this.done(mac, ctx, kept, now),
      () => this.done(mac, undefined, kept, now),
    );
  }

  private done(mac: string, ctx: FetchedContext | undefined, frame: Uint8Array | undefined, askedAt: number): void {
    this.counters.inFlight--;
    this.pending.delete(mac);
    if (!ctx) {
      this.counters.notFound++;
      this.o.noContext?.(mac);
    } else {
      this.counters.imported++;
      this.pause(mac, this.o.nowMs() + this.importedPauseMs);
      this.o.importContext(ctx, askedAt);
    }
    if (frame) this.o.replay?.(frame);
  }

  /**
   * The station has a session here now (registered from scratch after "no record", or
   * imported): its pause ends. The pause guards against fetching again and again for a
   * MAC that has no session; once its session ends (it moved on) and it comes back, a
   * fetch is right at once: the bench's move back to the MN's first AN within 5 s of its
   * first attach otherwise waited out the "no record" pause of that attach.
   */
  sessionStarted(mac: string): void {
    this.pausedUntil.delete(mac);
  }

  private pause(mac: string, until: number): void {
    this.pausedUntil.delete(mac);
    this.pausedUntil.set(mac, until);
    while (this.pausedUntil.size > this.maxRemembered) this.pausedUntil.delete(this.pausedUntil.keys().next().value as string);
  }
}
