// What `an run` does with signals and with a crash, from its first synchronous
// step: a signal that reached Node before these listeners existed would act by
// default (SIGHUP kills the process; SIGUSR1 opens Node's inspector, which is code
// execution in a process holding CAP_NET_RAW/NET_ADMIN). So `main` installs them
// before its first await and the daemon attaches once it runs; what is requested
// meanwhile is queued (a stop abandons the startup, or stops the daemon cleanly as
// soon as it runs).
//   SIGHUP reload · SIGUSR2 telemetry line · SIGTERM/SIGINT stop · SIGUSR1 ignored
import type { Logger } from "./logger.ts";

/** Exit codes of `an`. */
export const EXIT = {
  ok: 0,
  badConfig: 1,
  usage: 2,
  startFailed: 3,
  /** stopped by a fatal error while running (a receive socket stopped, an uncaught exception): restart me */
  failed: 4,
} as const;

export const HANDLED_SIGNALS = ["SIGHUP", "SIGUSR1", "SIGUSR2", "SIGTERM", "SIGINT"] as const;
export type HandledSignal = (typeof HANDLED_SIGNALS)[number];

/** `process`, or an EventEmitter in tests. */
export type SignalSource = Pick<NodeJS.EventEmitter, "on" | "off">;

/** What the running daemon does on request. */
export interface SignalTarget {
  reload(): Promise<void>;
  logTelemetry(): void;
  stop(reason: string): Promise<number>;
}

export class ProcessSignals {
  private target: SignalTarget | undefined;
  private reloadQueued = false;
  private telemetryQueued = false;
  private stopReason: string | undefined;
  private readonly listeners = new Map<string, (...args: unknown[]) => void>();

  constructor(
    private readonly source: SignalSource,
    private log: Logger,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {
    for (const s of HANDLED_SIGNALS) this.listen(s, () => this.onSignal(s));
    this.listen("uncaughtException", (e) => this.onCrash(e));
  }

  private listen(event: string, listener: (...args: unknown[]) => void): void {
    this.listeners.set(event, listener);
    this.source.on(event, listener);
  }

  /** The stop requested before the daemon attached (SIGTERM/SIGINT during startup). */
  get stopRequested(): string | undefined {
    return this.stopReason;
  }

  /** The daemon runs: carries out what was queued, then every signal at once. */
  attach(target: SignalTarget, log: Logger = this.log): void {
    this.target = target;
    this.log = log;
    if (this.stopReason !== undefined) {
      this.log.info({ signal: this.stopReason }, "stop requested during startup: stopping now");
      void target.stop(this.stopReason);
      return;
    }
    if (this.reloadQueued) void target.reload();
    if (this.telemetryQueued) target.logTelemetry();
    this.reloadQueued = this.telemetryQueued = false;
  }

  /** Removes every listener (tests; the process exits otherwise). */
  close(): void {
    for (const [event, listener] of this.listeners) this.source.off(event, listener);
    this.listeners.clear();
  }

  private onSignal(signal: HandledSignal): void {
    if (signal === "SIGUSR1") {
      // The listener is the point: with it, Node does not start the inspector.
      this.log.warn({ signal }, "SIGUSR1 ignored (telemetry is SIGUSR2)");
      return;
    }
    const t = this.target;
    if (t) {
      if (signal === "SIGHUP") void t.reload();
      else if (signal === "SIGUSR2") t.logTelemetry();
      else void t.stop(signal);
      return;
    }
    if (signal === "SIGHUP") this.reloadQueued = true;
    else if (signal === "SIGUSR2") this.telemetryQueued = true;
    else this.stopReason ??= signal;
    this.log.info({ signal }, signal === "SIGTERM" || signal === "SIGINT" ? "stop requested during startup" : "signal during startup: queued until the daemon runs");
  }

  private onCrash(e: unknown): void {
    const err = e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : { message: String(e) };
    try {
      this.log.fatal({ err }, "uncaught exception: exiting so the supervisor restarts");
    } finally {
      this.exit(EXIT.failed);
    }
  }
}
