// Stations the start-rate limit turned away, waiting their turn rather than
// dropped. After an AP reboot every station re-associates at once; a dropped
// trigger is not sent again soon (a Linux MN sends its DAD NS once and three RS
// 4 s apart), so a storm above `sessionStartsPerSecond` used to strand most of
// the stations (the attach-storm bench: 768 of 1,000 refused at the default
// 100/s). The limit still paces what goes to the HA; the queue only changes who
// waits. Bounded by START_QUEUE_SECONDS of starts at the configured rate (and
// by maxSessions), and an entry older than that is dropped: a flood of spoofed
// MACs fills it and is then refused as before.
import type { Trigger } from "./events.ts";

/** At most this many seconds of starts wait in the queue; older entries are dropped. */
export const START_QUEUE_SECONDS = 30;
/** Frames kept per waiting station (its DAD NS, RS, MLD reports): held for its session once it starts. */
export const START_QUEUE_FRAMES = 4;

export interface QueuedStart {
  readonly mac: string;
  readonly macBytes: Uint8Array;
  readonly trigger: Trigger;
  readonly identity: string | undefined;
  readonly at: number;
  /** Copies (the caller's buffers are reused). */
  readonly frames: Uint8Array[];
}

export class StartQueue {
  private readonly waiting = new Map<string, QueuedStart>();

  get size(): number {
    return this.waiting.size;
  }

  /** Its capacity at `rate` starts per second (0: unlimited, nothing waits). */
  static capacity(rate: number, maxSessions: number): number {
    return rate <= 0 ? 0 : Math.min(maxSessions, Math.max(64, rate * START_QUEUE_SECONDS));
  }

  /** Queues a start the rate turned away; false when full (the caller refuses it). A station already waiting keeps its place. */
  add(now: number, e: Omit<QueuedStart, "at" | "frames">, frame: Uint8Array | undefined, capacity: number): boolean {
    const queued = this.waiting.get(e.mac);
    if (queued) {
      if (frame) this.append(e.mac, frame);
      return true;
    }
    if (this.waiting.size >= capacity) return false;
    this.waiting.set(e.mac, { ...e, macBytes: e.macBytes.slice(), at: now, frames: frame ? [frame.slice()] : [] });
    return true;
  }

  /** A frame from a waiting station goes with it (true), up to START_QUEUE_FRAMES; false: not waiting. */
  append(mac: string, frame: Uint8Array): boolean {
    const e = this.waiting.get(mac);
    if (!e) return false;
    if (e.frames.length < START_QUEUE_FRAMES) e.frames.push(frame.slice());
    return true;
  }

  /** Drops entries older than START_QUEUE_SECONDS; returns how many. */
  expire(now: number): number {
    let dropped = 0;
    for (const [mac, e] of this.waiting) {
      if (now - e.at <= START_QUEUE_SECONDS * 1000) break; // insertion order is age order
      this.waiting.delete(mac);
      dropped++;
    }
    return dropped;
  }

  /** The longest-waiting station, taken out of the queue. */
  shift(): QueuedStart | undefined {
    const first = this.waiting.values().next();
    if (first.done) return undefined;
    this.waiting.delete(first.value.mac);
    return first.value;
  }

  has(mac: string): boolean {
    return this.waiting.has(mac);
  }

  /** A station that left (or lost its authorisation) while waiting: it is not started later. */
  remove(mac: string): boolean {
    return this.waiting.delete(mac);
  }

  clear(): void {
    this.waiting.clear();
  }
}
