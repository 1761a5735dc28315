// Link-layer control of stations (draft 3.2.4: on a DAD-failure revocation the AN
// detaches the MN). `CommandStationControl` runs an operator-configured command per
// detach (hostapd_cli deauthenticate, a board script taking a wired port down);
// without one, `ReportingStationControl` carries no link action and says so, so the
// operator sees every detach the protocol asked for.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";

export type DetachReason = "dad-failure";

export interface StationControl {
  /** Disconnect the station (deauthenticate on Wi-Fi, port down on a wired port). */
  detach(mac: string, reason: DetachReason): void;
  close(): void;
}

/** A station control without a link layer to act on: it reports what it was asked. */
export class ReportingStationControl implements StationControl {
  constructor(private readonly report: (mac: string, reason: DetachReason, performed: false) => void) {}

  detach(mac: string, reason: DetachReason): void {
    this.report(mac, reason, false);
  }

  close(): void {}
}

/** The placeholder replaced by the station's MAC in every argument of a detach command. */
export const MAC_PLACEHOLDER = "{mac}";
/** The only MAC text a command ever sees: lowercase, colon separated (as the engine keys stations). */
export const STATION_MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export const DEFAULT_DETACH_TIMEOUT_MS = 5000;
export const DEFAULT_DETACH_CONCURRENCY = 4;
export const DEFAULT_DETACH_QUEUE = 64;
/** stderr kept in an outcome (the log line). */
export const STDERR_KEPT = 200;
/** stderr read from a command (the rest is dropped). */
const MAX_STDERR_CHARS = 4096;
/** After the command exits, how long its stderr may stay open (a child it left behind). */
const EXIT_TO_CLOSE_GRACE_MS = 500;

export interface DetachOutcome {
  readonly mac: string;
  readonly reason: DetachReason;
  /** The command ran and exited 0. */
  readonly performed: boolean;
  /** Why nothing ran: the MAC is not station text, the queue is full, the control is closed. */
  readonly refused?: "malformed-mac" | "queue-full" | "closed";
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly timedOut?: boolean;
  /** A spawn error (ENOENT, EACCES), too much output, or "stopped" at close. */
  readonly error?: string;
  /** The command's stderr, trimmed, at most STDERR_KEPT characters. */
  readonly stderr?: string;
  readonly durationMs?: number;
}

/** Counts for telemetry; one object may be shared by successive controls (a reload replaces the command). */
export interface StationControlCounters {
  /** detach requests received. */
  requested: number;
  /** commands that exited 0. */
  performed: number;
  /** commands that exited non-zero, timed out, could not start or were stopped. */
  failed: number;
  /** requests refused without running anything (malformed MAC, queue full, closed; the daemon adds "no command configured"). */
  refused: number;
  /** requests for a MAC already waiting in the queue (one command serves both). */
  coalesced: number;
}

export function newStationControlCounters(): StationControlCounters {
  return { requested: 0, performed: 0, failed: 0, refused: 0, coalesced: 0 };
}

export interface CommandStationControlOptions {
  /** Program and arguments; MAC_PLACEHOLDER in the arguments is replaced by the MAC. No shell. */
  readonly argv: readonly string[];
  readonly report: (outcome: DetachOutcome) => void;
  readonly timeoutMs?: number;
  readonly maxConcurrent?: number;
  readonly maxQueued?: number;
  readonly counters?: StationControlCounters;
}

interface Pending {
  readonly mac: string;
  readonly reason: DetachReason;
}

/**
 * Runs the detach command for each request, asynchronously: at most maxConcurrent
 * at a time, the rest queued (bounded), each killed (its whole process group) after
 * timeoutMs. Every outcome is reported and counted.
 */
export class CommandStationControl implements StationControl {
  readonly counters: StationControlCounters;
  private readonly program: string;
  private readonly args: readonly string[];
  private readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly maxQueued: number;
  private readonly queue: Pending[] = [];
  private readonly running = new Set<ChildProcess>();
  private closed = false;

  constructor(private readonly o: CommandStationControlOptions) {
    const [program, ...args] = o.argv;
    if (program === undefined || program === "") throw new Error("detach command: no program");
    if (!args.some((a) => a.includes(MAC_PLACEHOLDER))) throw new Error(`detach command: no ${MAC_PLACEHOLDER} in its arguments`);
    this.program = program;
    this.args = args;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_DETACH_TIMEOUT_MS;
    this.maxConcurrent = Math.max(1, o.maxConcurrent ?? DEFAULT_DETACH_CONCURRENCY);
    this.maxQueued = Math.max(0, o.maxQueued ?? DEFAULT_DETACH_QUEUE);
    this.counters = o.counters ?? newStationControlCounters();
  }

  /** Commands running now / requests waiting. */
  get active(): number {
    return this.running.size;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Nothing running or waiting. */
  get idle(): boolean {
    return this.running.size === 0 && this.queue.length === 0;
  }

  detach(mac: string, reason: DetachReason): void {
    this.counters.requested++;
    // The MAC becomes an argument of a program: only the exact station text, never anything else.
    if (!STATION_MAC.test(mac)) return this.refuse(mac, reason, "malformed-mac");
    if (this.closed) return this.refuse(mac, reason, "closed");
    if (this.running.size < this.maxConcurrent) return this.start({ mac, reason });
    if (this.queue.some((p) => p.mac === mac)) {
      this.counters.coalesced++;
      return;
    }
    if (this.queue.length >= this.maxQueued) return this.refuse(mac, reason, "queue-full");
    this.queue.push({ mac, reason });
  }

  /** Drops the queue and kills every running command (reported as failed: "stopped"). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.queue.splice(0)) this.refuse(p.mac, p.reason, "closed");
    for (const child of this.running) killGroup(child);
  }

  private refuse(mac: string, reason: DetachReason, refused: NonNullable<DetachOutcome["refused"]>): void {
    this.counters.refused++;
    this.o.report({ mac, reason, performed: false, refused });
  }

  private start(p: Pending): void {
    const started = performance.now();
    let timedOut = false;
    let settled = false;
    let stderr = "";
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let child: ChildProcess | undefined;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const settle = (error?: string): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      if (child) this.running.delete(child);
      const performed = error === undefined && !timedOut && exit?.code === 0;
      if (performed) this.counters.performed++;
      else this.counters.failed++;
      const stopped = this.closed && !timedOut && exit?.signal === "SIGKILL";
      const problem = error ?? (stopped ? "stopped" : undefined);
      this.o.report({
        mac: p.mac,
        reason: p.reason,
        performed,
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        ...(problem !== undefined ? { error: problem } : {}),
        stderr: trimStderr(stderr),
        durationMs: Math.round(performance.now() - started),
      });
      this.next();
    };
    const args = this.args.map((a) => a.replaceAll(MAC_PLACEHOLDER, p.mac));
    try {
      // No shell: the MAC is one argv element. Its own process group, so that a
      // timeout also kills what the command started.
      child = spawn(this.program, args, { shell: false, detached: true, stdio: ["ignore", "ignore", "pipe"], windowsHide: true });
    } catch (e) {
      // A synchronous refusal (an argument holding a NUL byte): nothing ran.
      settle((e instanceof Error ? e.message : String(e)).slice(0, STDERR_KEPT));
      return;
    }
    const running = child;
    this.running.add(running);
    running.stderr?.setEncoding("utf8");
    running.stderr?.on("data", (d: string) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += d;
    });
    running.on("error", (e: NodeJS.ErrnoException) => settle(e.code ?? e.message));
    running.on("exit", (code, signal) => {
      exit = { code, signal };
      // Normally "close" follows at once; a leftover grandchild holding stderr open must not hold the outcome.
      timers.push(
        setTimeout(() => {
          running.stderr?.destroy();
          settle();
        }, EXIT_TO_CLOSE_GRACE_MS),
      );
    });
    running.on("close", () => settle());
    timers.push(
      setTimeout(() => {
        timedOut = true;
        killGroup(running);
      }, this.timeoutMs),
    );
  }

  private next(): void {
    while (!this.closed && this.running.size < this.maxConcurrent) {
      const p = this.queue.shift();
      if (!p) return;
      this.start(p);
    }
  }
}

/** SIGKILL to the command's process group (it may have exited and left children holding its pipes). */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

function trimStderr(s: string): string {
  const t = s.trim();
  return t.length > STDERR_KEPT ? `${t.slice(0, STDERR_KEPT)}…` : t;
}
