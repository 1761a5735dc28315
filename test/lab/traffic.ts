// The lab's traffic tools: a UDP echo, pings over UDP (tools/udp-ping.ts), one
// shot or as a stream, bundled tools run to completion, and dumpcap captures.
// Every process started here is registered with the topology, stopped at cleanup.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../support/netns.ts";
import { waitFor } from "../support/netns.ts";
import { nativeEnv } from "./bundle.ts";
import { LAB } from "./lab-plan.ts";
import type { AnyLine, PingSummary } from "./lab-plan.ts";
import { LineReader } from "./processes.ts";

/** A running capture (dumpcap) whose pcap file is read when stopped. */
export interface Capture {
  readonly file: string;
  stop(): Promise<Uint8Array>;
}

/** A ping stream running until stopped. */
export interface PingStream {
  /** Replies so far: sequence number, round trip, arrival time (ms since 1970). */
  readonly replies: readonly { readonly seq: number; readonly rttMs: number; readonly t: number }[];
  stop(): Promise<PingSummary>;
}

export interface TrafficHost {
  readonly lab: Lab;
  /** The lab's temp dir (captures go there by default). */
  readonly dir: string;
  /** The bundle of a lab entry (cached). */
  bundle(entry: string, native?: boolean): Promise<string>;
  /** Registers a process to stop at cleanup. */
  track(p: { stop(): Promise<void> }): void;
}

export class TrafficTools {
  constructor(private readonly host: TrafficHost) {}

  /** Runs a bundled lab tool in `ns` to completion; returns its stdout JSON lines. */
  async runTool(ns: string, entry: string, args: readonly string[], timeoutMs = 20_000, native = true): Promise<{ code: number | null; lines: AnyLine[]; stderr: string }> {
    const file = await this.host.bundle(entry, native);
    const child = this.host.lab.spawn(ns, process.execPath, [file, ...args], { env: nativeEnv() });
    const reader = new LineReader<AnyLine>(child);
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    return { code, lines: reader.lines, stderr: reader.stderr };
  }

  /** Starts a UDP echo server (the lab's ping responder) in `ns`; stopped at cleanup. */
  async startEcho(ns: string, port: number = LAB.echoPort): Promise<{ stop(): Promise<void> }> {
    const file = await this.host.bundle("test/lab/tools/udp-ping.ts", false);
    const child = this.host.lab.spawn(ns, process.execPath, [file, "echo", String(port)]);
    const reader = new LineReader<AnyLine>(child);
    await reader.waitFor((l) => l.ready === true, `UDP echo in ${ns}`, 10_000);
    this.host.track(reader);
    return reader;
  }

  /** A ping over UDP (see tools/udp-ping.ts) from `ns` to an echo at `address`. */
  async ping(ns: string, address: string, o: { readonly count?: number; readonly intervalMs?: number; readonly waitMs?: number; readonly port?: number; readonly size?: number } = {}): Promise<PingSummary> {
    const count = o.count ?? 1;
    const args = ["ping", address, "--count", String(count), "--interval", String(o.intervalMs ?? 200), "--wait", String(o.waitMs ?? 1000), "--port", String(o.port ?? LAB.echoPort), ...(o.size !== undefined ? ["--size", String(o.size)] : [])];
    const r = await this.runTool(ns, "test/lab/tools/udp-ping.ts", args, count * (o.intervalMs ?? 200) + (o.waitMs ?? 1000) + 10_000, false);
    const s = r.lines.find((l) => typeof l.summary === "object");
    if (!s) throw new Error(`ping from ${ns} gave no summary: ${r.stderr}`);
    return s.summary as PingSummary;
  }

  /** A ping stream every intervalMs until stopped (handover measurements). */
  async pingStream(ns: string, address: string, o: { readonly intervalMs?: number; readonly waitMs?: number; readonly port?: number } = {}): Promise<PingStream> {
    const file = await this.host.bundle("test/lab/tools/udp-ping.ts", false);
    const args = [file, "ping", address, "--count", "0", "--interval", String(o.intervalMs ?? 20), "--wait", String(o.waitMs ?? 1000), "--port", String(o.port ?? LAB.echoPort)];
    const child = this.host.lab.spawn(ns, process.execPath, args);
    const reader = new LineReader<AnyLine>(child);
    this.host.track(reader);
    return {
      get replies() {
        return reader.lines.filter((l) => typeof l.seq === "number") as unknown as { seq: number; rttMs: number; t: number }[];
      },
      stop: async () => {
        child.kill("SIGTERM");
        const s = await reader.waitFor((l) => typeof l.summary === "object", "ping summary", (o.waitMs ?? 1000) + 5000);
        return s.summary as PingSummary;
      },
    };
  }

  /** Starts dumpcap on `ifname` in `ns` (optional capture filter) and waits until it writes. */
  async capture(ns: string, ifname: string, filter?: string, file: string = join(this.host.dir, `${ns}-${ifname}-${Date.now()}.pcap`)): Promise<Capture> {
    const child = this.host.lab.spawn(ns, "dumpcap", ["-q", "-P", "-i", ifname, ...(filter ? ["-f", filter] : []), "-w", file]);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    await waitFor(
      () => (existsSync(file) && statSync(file).size >= 24 ? true : child.exitCode !== null ? fail(`dumpcap exited: ${stderr}`) : undefined),
      10_000,
      `dumpcap on ${ns}/${ifname} (${stderr})`,
    );
    return {
      file,
      stop: () =>
        new Promise<Uint8Array>((resolve) => {
          const done = (): void => resolve(new Uint8Array(readFileSync(file)));
          if (child.exitCode !== null) return done();
          const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
          child.once("exit", () => {
            clearTimeout(kill);
            done();
          });
          child.kill("SIGINT");
        }),
    };
  }
}

function fail(message: string): never {
  throw new Error(message);
}
