// Drives the sans-I/O engine from the real world: feeds it inputs stamped with
// the monotonic clock, carries out every action it answers with, and keeps ONE
// timer armed at the engine's next deadline (DESIGN.md 7).
import type { Engine, EngineInput } from "../core/engine.ts";
import type { Action } from "../core/events.ts";

/** Where actions go; `flush` ends a burst (one receive batch, one timer tick). */
export interface ActionSink {
  perform(now: number, action: Action): void;
  flush(now: number): void;
}

/** The clock and the one timer (real: performance.now and setTimeout; tests: fakes). */
export interface TimerHost {
  now(): number;
  setTimer(delayMs: number, fire: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/**
 * Last resort for a bug: an exception out of the engine or an io adapter. The input
 * (or action) is lost, the daemon keeps serving. `where` names the step; the error
 * is never logged whole by the caller (only its message), since inputs carry keys' MACs.
 */
export type InternalErrorHandler = (where: string, error: unknown) => void;

/** Node's setTimeout caps delays at 2^31 - 1 ms; a later deadline is re-armed on the way. */
const MAX_DELAY_MS = 0x7fffffff;

export class EngineDriver {
  private armedAt: number | undefined;
  private timer: unknown;
  private stopped = false;
  /** inputs fed, for telemetry */
  inputs = 0;
  /** exceptions caught around handle, perform and flush (telemetry: a bug if not 0) */
  internalErrors = 0;

  constructor(
    readonly engine: Engine,
    private readonly host: TimerHost,
    private readonly sink: ActionSink,
    private readonly onInternalError: InternalErrorHandler = () => {},
  ) {}

  private caught(where: string, error: unknown): void {
    this.internalErrors++;
    try {
      this.onInternalError(where, error);
    } catch {
      // the reporter itself failed: counted above, nothing more to do
    }
  }

  now(): number {
    return this.host.now();
  }

  /** Feeds one input and carries out its actions; call settle() after a burst. */
  input(input: EngineInput): void {
    if (this.stopped) return;
    const now = this.host.now();
    this.inputs++;
    try {
      this.engine.handle(now, input);
    } catch (e) {
      this.caught(`handle ${input.kind}`, e);
    }
    // What the engine queued before a throw is consistent with its state: carried out.
    this.drain(now);
  }

  /** Carries out actions queued outside handle() (e.g. after reconfigure). */
  drain(now: number = this.host.now()): void {
    // Actions may hold views into the input's buffer: carried out before the next input.
    for (let a = this.engine.poll(); a; a = this.engine.poll()) {
      try {
        this.sink.perform(now, a);
      } catch (e) {
        this.caught(`perform ${a.kind}`, e);
      }
    }
  }

  /** Ends a burst: flush io, arm the one timer at the engine's next deadline. */
  settle(): void {
    if (this.stopped) return;
    try {
      this.sink.flush(this.host.now());
    } catch (e) {
      this.caught("flush", e);
    }
    this.arm();
  }

  /** input + settle. */
  feed(input: EngineInput): void {
    this.input(input);
    this.settle();
  }

  /** The deadline the timer is armed for (tests, status). */
  get armedDeadline(): number | undefined {
    return this.armedAt;
  }

  private arm(): void {
    const at = this.engine.nextDeadline();
    if (at === this.armedAt && (at === undefined || this.timer !== undefined)) return;
    if (this.timer !== undefined) this.host.clearTimer(this.timer);
    this.timer = undefined;
    this.armedAt = at;
    if (at === undefined) return;
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil(at - this.host.now())));
    this.timer = this.host.setTimer(delay, () => {
      this.timer = undefined;
      this.armedAt = undefined;
      this.feed({ kind: "deadline" });
    });
  }

  /** Stops the timer; later inputs are ignored. */
  stop(): void {
    if (this.timer !== undefined) this.host.clearTimer(this.timer);
    this.timer = undefined;
    this.armedAt = undefined;
    this.stopped = true;
  }
}

export const realTimerHost = (now: () => number): TimerHost => ({
  now,
  setTimer: (delayMs, fire) => setTimeout(fire, delayMs),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});
