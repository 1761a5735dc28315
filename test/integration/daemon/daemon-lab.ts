// Plumbing for the daemon tests: the bundled daemon and peer agent, child
// processes inside network namespaces speaking JSON lines, and bounded waits.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Lab } from "../../support/netns.ts";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** Root runs these; CI (root promised) must run them; elsewhere they skip and say why. */
export function daemonLabGate(): boolean {
  if (process.getuid?.() === 0 || process.env.CI === "true") return true;
  console.warn("daemon netns tests skipped: they need root (network namespaces, raw sockets); run as root or with CI=true to force");
  return false;
}

/** A world-readable scratch dir (the daemon runs as nobody) with a world-writable run/ inside. */
export function scratchDir(): { dir: string; run: string } {
  const dir = mkdtempSync(join(tmpdir(), "an-daemon-"));
  chmodSync(dir, 0o755);
  const run = join(dir, "run");
  mkdirSync(run);
  chmodSync(run, 0o777);
  return { dir, run };
}

/** dist-like layout in `dir`: an.mjs + an_native.node + board/, built by build/bundle.mjs. */
export function bundleDaemon(dir: string): string {
  execFileSync(process.execPath, [join(repoRoot, "build/bundle.mjs"), "--outdir", dir], { stdio: "pipe", timeout: 60_000 });
  return join(dir, "an.mjs");
}

export async function bundlePeer(dir: string): Promise<string> {
  const out = join(dir, "peer-agent.mjs");
  await build({
    entryPoints: [fileURLToPath(new URL("./fixtures/peer-agent.ts", import.meta.url))],
    outfile: out,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "error",
  });
  return out;
}

type Line = Record<string, unknown>;

/** A child speaking JSON lines; collects every line and answers requests by id. */
export class JsonChild {
  readonly lines: Line[] = [];
  stderr = "";
  private nextId = 1;
  private readonly waiters = new Set<() => void>();
  exit: { code: number | null; signal: string | null } | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcessWithoutNullStreams,
  ) {
    createInterface({ input: child.stdout }).on("line", (l) => {
      try {
        this.lines.push(JSON.parse(l) as Line);
      } catch {
        this.lines.push({ raw: l });
      }
      this.wake();
    });
    child.stderr.on("data", (c: Buffer) => (this.stderr += c.toString()));
    child.on("exit", (code, signal) => {
      this.exit = { code, signal };
      this.wake();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async request<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 5000): Promise<T> {
    const id = this.nextId++;
    this.child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    const line = await this.waitFor((l) => l.id === id, `${op} answer`, timeoutMs);
    if (line.ok !== true) throw new Error(`${this.name} ${op}: ${JSON.stringify(line.error)}`);
    return line.result as T;
  }

  /** The first line (from `from` on) matching `pred`, within timeoutMs. */
  waitFor(pred: (l: Line) => boolean, what: string, timeoutMs = 10_000, from = 0): Promise<Line> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.lines.slice(from).find(pred);
        if (hit) {
          done();
          resolve(hit);
        } else if (this.exit) {
          done();
          reject(new Error(`${this.name} exited (${JSON.stringify(this.exit)}) while waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}; last lines: ${JSON.stringify(this.lines.slice(-5))}; stderr: ${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  waitExit(timeoutMs: number): Promise<{ code: number | null; signal: string | null }> {
    return new Promise((resolve, reject) => {
      if (this.exit) return resolve(this.exit);
      const timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms`)), timeoutMs);
      this.child.once("exit", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
  }

  kill(): void {
    if (this.exit === undefined && this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

export function spawnInNetns(ns: string, name: string, argv: string[], env: Record<string, string> = {}): JsonChild {
  const child = spawn("ip", ["netns", "exec", ns, ...argv], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  return new JsonChild(name, child);
}

/**
 * The daemon tests' namespaces: AN (up0 with 10.0.0.1/24 and the care-of addresses,
 * acc0), HA (ha0 with `ha`/24), MN (eth0, left as the test wants it), IPv4 only in
 * the AN's and the HA's; UDP 434 needs no privilege in the AN's (the README's port
 * choice, no CAP_NET_BIND_SERVICE).
 */
export function daemonNamespaces(lab: Lab, o: { readonly ha: string; readonly coas: readonly string[] }): { an: string; ha: string; mn: string } {
  const an = lab.netns("an");
  const ha = lab.netns("ha");
  const mn = lab.netns("mn");
  for (const ns of [an, ha]) lab.exec(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
  lab.exec(an, "sysctl", "-q", "-w", "net.ipv4.ip_unprivileged_port_start=434");
  lab.veth(an, "up0", ha, "ha0");
  lab.veth(an, "acc0", mn, "eth0");
  lab.exec(an, "ip", "addr", "add", "10.0.0.1/24", "dev", "up0");
  for (const a of o.coas) lab.exec(an, "ip", "addr", "add", `${a}/24`, "dev", "up0");
  lab.exec(an, "ip", "link", "set", "up0", "up");
  lab.exec(an, "ip", "link", "set", "acc0", "up");
  lab.exec(ha, "ip", "addr", "add", `${o.ha}/24`, "dev", "ha0");
  lab.exec(ha, "ip", "link", "set", "ha0", "up");
  return { an, ha, mn };
}

/** setpriv prefix: uid/gid nobody, no groups, only CAP_NET_RAW and CAP_NET_ADMIN (ambient). */
export const AS_NOBODY_WITH_NET_CAPS = [
  "setpriv",
  "--reuid=65534",
  "--regid=65534",
  "--clear-groups",
  "--inh-caps=-all,+net_raw,+net_admin",
  "--ambient-caps=+net_raw,+net_admin",
  "--bounding-set=-all,+net_raw,+net_admin",
];

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
