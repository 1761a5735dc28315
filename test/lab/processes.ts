// The lab's child processes, read line by line: the HA peer and the AN daemons
// (JSON lines), the bundled tools, and `ip monitor` in an MN's namespace.
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { AnSite, AnyLine, HaLine } from "./lab-plan.ts";
import type { HaEvent } from "./home-agent/events.ts";

/** Turns one stdout line into `lines` (push, or amend the last); false: not a line of this kind. */
export type LineParser<L> = (text: string, lines: L[]) => boolean;

const jsonLine = <L>(text: string, lines: L[]): boolean => {
  try {
    lines.push(JSON.parse(text) as L);
    return true;
  } catch {
    return false;
  }
};

/** Reads a child's stdout into `lines` (JSON lines by default), waking waiters. */
export class LineReader<L> {
  readonly lines: L[] = [];
  private readonly waiters = new Set<() => void>();
  stderr = "";

  constructor(
    readonly child: ChildProcess,
    parse: LineParser<L> = jsonLine,
  ) {
    if (child.stdout) {
      createInterface({ input: child.stdout }).on("line", (text) => {
        if (!parse(text, this.lines)) this.stderr += `${text}\n`; // not a line: keep it for the error message
        for (const w of [...this.waiters]) w();
      });
    }
    child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    child.on("exit", () => {
      for (const w of [...this.waiters]) w();
    });
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Resolves with the first line (already seen or coming) that matches; rejects on timeout or exit. */
  waitFor(pred: (l: L) => boolean, what: string, timeoutMs: number): Promise<L> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.find(pred);
        if (found === undefined && !this.exited) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        if (found !== undefined) resolve(found);
        else reject(new Error(`process exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; stderr: ${this.stderr.slice(-2000)}`));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs = 3000): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      this.child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      this.child.kill("SIGTERM");
    });
  }
}

/** A lab child process that speaks JSON lines on stdout (the HA peer, an AN daemon). */
abstract class JsonLineProcess<L> {
  protected readonly reader: LineReader<L>;

  constructor(readonly child: ChildProcess) {
    this.reader = new LineReader<L>(child);
  }

  get exited(): boolean {
    return this.reader.exited;
  }

  get stderr(): string {
    return this.reader.stderr;
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }
}

/** The HA peer process (test/lab/home-agent/main.ts) running in the HA namespace. */
export class HaProcess extends JsonLineProcess<AnyLine> {
  constructor(
    child: ChildProcess,
    readonly configFile: string,
  ) {
    super(child);
  }

  /** Every line so far, in order. */
  get lines(): readonly AnyLine[] {
    return this.reader.lines;
  }

  events<T extends HaEvent["type"]>(type: T): HaLine<T>[] {
    return this.reader.lines.filter((l) => l.event === type) as unknown as HaLine<T>[];
  }

  waitFor<T extends HaEvent["type"]>(type: T, pred: (e: HaLine<T>) => boolean = () => true, timeoutMs = 10_000): Promise<HaLine<T>> {
    return this.reader.waitFor((l) => l.event === type && pred(l as unknown as HaLine<T>), `HA event ${type}`, timeoutMs) as unknown as Promise<HaLine<T>>;
  }

  /** Waits for the "ready" line (sockets open, UDP 434 bound). */
  ready(timeoutMs = 10_000): Promise<AnyLine> {
    return this.reader.waitFor((l) => l.event === "ready" || l.event === "error", "HA ready", timeoutMs).then((l) => {
      if (l.event === "error") throw new Error(`HA failed: ${String(l.message)}`);
      return l;
    });
  }

  /** Sends a JSON-line command ({"op": "revoke", "nai"} or {"op": "bindings"}). */
  command(cmd: { readonly op: "revoke"; readonly nai: string } | { readonly op: "bindings" } | { readonly op: "frag-needed"; readonly coa: string; readonly mtu: number }): void {
    this.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
  }
}

/** An AN daemon process (dist/an.mjs run --config FILE), its JSON log lines collected. */
export class AnProcess extends JsonLineProcess<Readonly<Record<string, unknown>>> {
  constructor(
    readonly site: AnSite,
    child: ChildProcess,
    readonly configFile: string,
    readonly pcapFile: string | undefined,
  ) {
    super(child);
  }

  get logs(): readonly Readonly<Record<string, unknown>>[] {
    return this.reader.lines;
  }

  waitForLog(pred: (l: Readonly<Record<string, unknown>>) => boolean, what: string, timeoutMs = 10_000): Promise<Readonly<Record<string, unknown>>> {
    return this.reader.waitFor(pred, what, timeoutMs);
  }
}


/** One change the MN's kernel reported (ip monitor): `t` is its timestamp in ms since 1970. */
export interface MnKernelEvent {
  readonly t: number;
  readonly kind: "link" | "address" | "route";
  readonly deleted: boolean;
  /** The monitor's text, continuation lines joined with one space. */
  readonly text: string;
}

/** One line of `ip -ts monitor`: a new event, or the continuation of the last one. */
const monitorLine: LineParser<MnKernelEvent> = (text, events) => {
  // "[2026-11-26T19:11:52.611619] 3: eth0    inet6 2001:db8::5/64 scope global tentative"
  const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)\] (.*)$/.exec(text);
  if (!m) {
    const last = events.pop();
    if (last && text.trim() !== "") events.push({ ...last, text: `${last.text} ${text.trim()}` });
    else if (last) events.push(last);
    return true;
  }
  // ip prints local time; Date parses a zone-less ISO date-time as local time too.
  const t = Date.parse(m[1]!) + Number(`0.${m[2]!}`) * 1000;
  const body = m[3]!.trim();
  const deleted = body.startsWith("Deleted ");
  const rest = deleted ? body.slice(8) : body;
  const kind = /^\d+: \S+\s+inet6? /.test(rest) ? "address" : /^\d+: \S+: </.test(rest) ? "link" : "route";
  events.push({ t, kind, deleted, text: rest });
  return true;
};

/** `ip -ts monitor link address route` in an MN's namespace, its lines parsed as they come. */
export class MnMonitor {
  private readonly reader: LineReader<MnKernelEvent>;

  constructor(child: ChildProcess) {
    this.reader = new LineReader(child, monitorLine);
  }

  get events(): MnKernelEvent[] {
    return this.reader.lines;
  }

  get stderr(): string {
    return this.reader.stderr;
  }

  get exited(): boolean {
    return this.reader.exited;
  }

  /** The first event (seen or coming) that matches; rejects after timeoutMs (or when ip exits first). */
  waitFor(pred: (e: MnKernelEvent) => boolean, what: string, timeoutMs: number): Promise<MnKernelEvent> {
    return this.reader.waitFor(pred, `the MN's kernel: ${what}`, timeoutMs);
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }
}
