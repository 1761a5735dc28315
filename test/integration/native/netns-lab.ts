// Lab plumbing for the native I/O tests: who may run them, network namespaces with
// veth links, the src/io wrapper bundled to plain JS for child processes, and an
// agent (fixtures/io-agent.mjs) per namespace driven by JSON lines over stdio.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const addonPath = join(repoRoot, "src/native/build/Release/an_native.node");
const agentScript = fileURLToPath(new URL("./fixtures/io-agent.mjs", import.meta.url));

/** Root runs the lab; without root it is skipped, except in CI where it must run (and fail). */
export function labGate(): { run: boolean; reason: string } {
  if (process.getuid?.() === 0) return { run: true, reason: "" };
  if (process.env.CI === "true") return { run: true, reason: "CI=true: must run, will fail without root" };
  const reason =
    "native lab tests skipped: they need root (network namespaces, AF_PACKET, raw sockets, /dev/net/tun); run as root or with CI=true to force";
  console.warn(reason);
  return { run: false, reason };
}

export function sh(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
}

let counter = 0;

/** A unique namespace / interface name stem for this process: an-t-<pid>-<n>. */
export function uniqueName(): { ns: string; short: string } {
  counter++;
  return { ns: `an-t-${process.pid}-${counter}`, short: `t${process.pid % 100000}${counter}` };
}

/** Namespaces created by this file; removed by `cleanup()` (call it in afterAll). */
export class Lab {
  readonly namespaces: string[] = [];
  readonly agents: Agent[] = [];
  private bundleDir: string | undefined;
  private bundlePath: string | undefined;

  /** A fresh namespace with lo up and IPv6 off on every new interface (no ND/MLD noise). */
  namespace(): string {
    const { ns } = uniqueName();
    sh("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    this.sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1");
    this.sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1");
    this.sysctl(ns, "net.ipv4.conf.all.rp_filter", "0");
    this.sysctl(ns, "net.ipv4.conf.default.rp_filter", "0");
    return ns;
  }

  sysctl(ns: string, key: string, value: string): void {
    sh("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", `${key}=${value}`]);
  }

  ip(ns: string, ...args: string[]): string {
    return sh("ip", ["-n", ns, ...args]);
  }

  /** A veth pair between two namespaces, both ends up; returns the two names. */
  veth(nsA: string, nsB: string): { a: string; b: string } {
    const { short } = uniqueName();
    const a = `${short}a`;
    const b = `${short}b`;
    sh("ip", ["link", "add", a, "netns", nsA, "type", "veth", "peer", "name", b, "netns", nsB]);
    this.ip(nsA, "link", "set", a, "up");
    this.ip(nsB, "link", "set", b, "up");
    return { a, b };
  }

  /** The io wrapper bundled by esbuild (what a child process can load without a TS loader). */
  async ioBundle(): Promise<string> {
    if (this.bundlePath) return this.bundlePath;
    this.bundleDir = mkdtempSync(join(tmpdir(), "an-io-"));
    const out = join(this.bundleDir, "io.mjs");
    await build({
      stdin: {
        contents: [
          'export * from "./src/io/access-link-socket.ts";',
          'export * from "./src/io/tunnel-socket.ts";',
          'export * from "./src/io/icmp-error-socket.ts";',
          'export * from "./src/io/tun-device.ts";',
          'export * from "./src/io/network-interface.ts";',
          'export * from "./src/io/packet-batch.ts";',
          'export * from "./src/io/native-addon.ts";',
          'export * from "./src/io/kernel-datapath.ts";',
        ].join("\n"),
        resolveDir: repoRoot,
        loader: "ts",
      },
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      outfile: out,
      logLevel: "error",
    });
    this.bundlePath = out;
    return out;
  }

  /** Starts an agent inside `ns` (ip netns exec) that loads the bundled wrapper. */
  async agent(ns: string): Promise<Agent> {
    if (!existsSync(addonPath)) throw new Error(`${addonPath} missing: run npm run build:native`);
    const bundle = await this.ioBundle();
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "--expose-gc", agentScript], {
      env: { ...process.env, AN_NATIVE_ADDON: addonPath, AN_IO_BUNDLE: bundle },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const agent = new Agent(ns, child);
    this.agents.push(agent);
    await agent.request("ping", {});
    return agent;
  }

  cleanup(): void {
    for (const agent of this.agents) agent.kill();
    for (const ns of this.namespaces) {
      try {
        sh("ip", ["netns", "del", ns]);
      } catch {
        // already gone
      }
    }
    if (this.bundleDir) rmSync(this.bundleDir, { recursive: true, force: true });
  }
}

export interface AgentEvent {
  readonly event: string;
  readonly handle?: number;
  readonly packets?: string[];
  readonly meta?: { ifindex: number; pkttype: number; vlan: number | null; etherType: number }[];
  readonly error?: { code: string; syscall: string; message: string };
  readonly stopped?: boolean;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Errors from the agent keep the native error's code and syscall. */
export class AgentError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly syscall: string,
  ) {
    super(message);
  }
}

export class Agent {
  readonly events: AgentEvent[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly waiters = new Set<() => void>();
  private nextId = 1;
  private stderr = "";

  constructor(
    readonly ns: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    createInterface({ input: child.stdout }).on("line", (line) => this.onLine(line));
    child.stderr.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    child.on("exit", (code, signal) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`agent in ${ns} exited (${code ?? signal}): ${this.stderr}`));
      }
      this.pending.clear();
    });
  }

  private onLine(line: string): void {
    const msg = JSON.parse(line) as {
      id?: number;
      ok?: boolean;
      result?: unknown;
      error?: { message: string; code: string; syscall: string };
    } & AgentEvent;
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new AgentError(msg.error?.message ?? "agent error", msg.error?.code ?? "", msg.error?.syscall ?? ""));
      return;
    }
    this.events.push(msg);
    for (const w of [...this.waiters]) w();
  }

  request<T = unknown>(op: string, args: Record<string, unknown>, timeoutMs = 5_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent ${this.ns}: ${op} timed out after ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject, timer });
      this.child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** Packets received so far on `handle`, with their metadata, in arrival order. */
  received(handle: number): { hex: string; meta: NonNullable<AgentEvent["meta"]>[number] | undefined }[] {
    const out: { hex: string; meta: NonNullable<AgentEvent["meta"]>[number] | undefined }[] = [];
    for (const e of this.events) {
      if (e.event !== "batch" || e.handle !== handle) continue;
      (e.packets ?? []).forEach((hex, i) => out.push({ hex, meta: e.meta?.[i] }));
    }
    return out;
  }

  batchSizes(handle: number): number[] {
    return this.events.filter((e) => e.event === "batch" && e.handle === handle).map((e) => e.packets?.length ?? 0);
  }

  /** Waits until `predicate` holds (checked on every event), at most timeoutMs. */
  waitUntil(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`agent ${this.ns}: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
