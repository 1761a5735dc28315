// Network namespaces for tests and the lab: unique names per run, commands and
// processes inside them, and a cleanup that removes everything a Lab made, whether
// the test passed, threw, or the process got Ctrl-C / SIGTERM. Namespaces left by a
// process that died hard (SIGKILL) are swept by the next Lab with the same label.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Root (or CI, where root is promised) is needed; elsewhere the suite skips and says why. */
export function netnsUnavailableReason(): string | undefined {
  if (process.env.CI === "true") return undefined; // CI runs as root: a failure there must be loud
  if (process.getuid?.() !== 0) return "needs root for network namespaces (CI runs these as root)";
  return undefined;
}

const live = new Set<Lab>();
let handlersInstalled = false;

/** Once per process: exit and the usual termination signals clean every live Lab up. */
function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", () => {
    for (const lab of [...live]) lab.cleanup();
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      for (const lab of [...live]) lab.cleanup();
      // Die of the signal as we would have without this handler.
      process.kill(process.pid, signal);
    });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Names of all network namespaces (`ip netns list`). */
export function listNamespaces(): string[] {
  const out = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim().split(" ")[0] ?? "")
    .filter((n) => n.length > 0);
}

/** Kills every process inside `ns`, then deletes it; quiet if it is already gone. */
export function deleteNamespace(ns: string): void {
  try {
    const pids = execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    for (const p of pids.split("\n")) {
      const pid = Number(p);
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  } catch {
    // no such namespace
  }
  try {
    execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  } catch {
    // already gone
  }
}

let counter = 0;

/** "net.ipv6.conf.eth0.forwarding" -> /proc/sys/net/ipv6/conf/eth0/forwarding (interface names without dots). */
function sysctlPath(key: string): string {
  if (!/^[a-z0-9_.-]+$/i.test(key)) throw new Error(`sysctl key ${key}`);
  return `/proc/sys/${key.replace(/\./g, "/")}`;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class Lab {
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly dirs: string[] = [];
  private readonly extraCleanups: (() => void)[] = [];
  /** Prefix of every namespace of this Lab: `<label>-<pid>-<n>`. */
  readonly tag: string;

  constructor(readonly label: string) {
    if (!/^[a-z0-9]{1,12}$/.test(label)) throw new Error(`lab label ${label}: 1-12 of a-z 0-9`);
    this.tag = `${label}-${process.pid}-${counter++}`;
    Lab.sweep(label);
    installCleanupHandlers();
    live.add(this);
  }

  /** Deletes namespaces of this label whose creating process is dead (a run killed with SIGKILL). */
  static sweep(label: string): void {
    const re = new RegExp(`^${label}-(\\d+)-\\d+-`);
    for (const ns of listNamespaces()) {
      const m = re.exec(ns);
      if (m && !processAlive(Number(m[1]))) deleteNamespace(ns);
    }
  }

  /**
   * Creates a namespace with loopback up; the name is unique to this run.
   * ipv6: false disables IPv6 on every interface it will hold (a silent IPv4-only node).
   */
  netns(role: string, o: { readonly ipv6?: boolean } = {}): string {
    const name = `${this.tag}-${role}`;
    execFileSync("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    this.ip(name, "link", "set", "lo", "up");
    if (o.ipv6 === false) {
      this.sysctl(name, "net.ipv6.conf.all.disable_ipv6", "1");
      this.sysctl(name, "net.ipv6.conf.default.disable_ipv6", "1");
    }
    return name;
  }

  /** Runs a command in a namespace and returns its stdout; throws with stderr on failure. */
  exec(ns: string, ...cmd: string[]): string {
    try {
      return execFileSync("ip", ["netns", "exec", ns, ...cmd], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`in ${ns}: ${cmd.join(" ")}: ${err.stderr?.trim() || err.message}`);
    }
  }

  /** `ip -n ns ...` */
  ip(ns: string, ...args: string[]): string {
    try {
      return execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`ip -n ${ns} ${args.join(" ")}: ${err.stderr?.trim() || err.message}`);
    }
  }

  /** Several `ip` commands in one process (`ip -n ns -batch -`): one atomic-looking step. */
  ipBatch(ns: string, lines: readonly string[]): void {
    try {
      execFileSync("ip", ["-n", ns, "-batch", "-"], { input: `${lines.join("\n")}\n`, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], timeout: 10_000 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`ip -n ${ns} -batch: ${err.stderr?.trim() || err.message}`);
    }
  }

  /**
   * Sets a sysctl of the namespace through /proc/sys (procps' sysctl(8) is not on
   * every host: the demo needs nothing but iproute2 and a shell).
   */
  sysctl(ns: string, key: string, value: string): void {
    this.exec(ns, "sh", "-c", 'printf "%s\\n" "$2" > "$1"', "sysctl", sysctlPath(key), value);
  }

  readSysctl(ns: string, key: string): string {
    return this.exec(ns, "cat", sysctlPath(key)).trim();
  }

  /**
   * A veth pair with one end in each namespace, created there directly (the names
   * only need to be unique inside their namespace; at most 15 characters). Both
   * ends stay down; `mac` options fix the link-layer addresses.
   */
  veth(nsA: string, ifA: string, nsB: string, ifB: string, o: { readonly macA?: string; readonly macB?: string } = {}): void {
    for (const n of [ifA, ifB]) if (n.length > 15) throw new Error(`interface name ${n} exceeds IFNAMSIZ`);
    execFileSync("ip", [
      "link", "add", ifA, ...(o.macA ? ["address", o.macA] : []), "netns", nsA,
      "type", "veth", "peer", "name", ifB, ...(o.macB ? ["address", o.macB] : []), "netns", nsB,
    ]);
  }

  /** A Linux bridge as a plain switch: no STP, no forward delay, no multicast snooping; up. */
  bridge(ns: string, name: string): void {
    this.ip(ns, "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0");
    this.ip(ns, "link", "set", name, "up");
  }

  /** Starts a process inside `ns`; it is killed at cleanup. */
  spawn(ns: string, cmd: string, args: readonly string[], o: Pick<SpawnOptions, "env" | "stdio"> = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: o.stdio ?? ["ignore", "pipe", "pipe"], env: o.env ?? process.env });
    this.children.push(child);
    return child;
  }

  /** Runs a command inside `ns` to completion (bounded by timeoutMs), without blocking the event loop. */
  run(ns: string, cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
    const child = this.spawn(ns, cmd, args);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("close", (code) => {
        clearTimeout(timer);
        this.children.splice(this.children.indexOf(child), 1);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** A temporary directory removed at cleanup. */
  tempDir(prefix = "lab-"): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** Runs `fn` at cleanup, before the namespaces go (most recent first). */
  onCleanup(fn: () => void): void {
    this.extraCleanups.push(fn);
  }

  /** The namespaces this Lab created and still holds. */
  get namespaceNames(): readonly string[] {
    return this.namespaces;
  }

  /** Stops children, removes every namespace (and with it every veth end inside) and temp dir. Idempotent. */
  cleanup(): void {
    live.delete(this);
    for (const fn of this.extraCleanups.splice(0).reverse()) {
      try {
        fn();
      } catch {
        // cleanup goes on
      }
    }
    for (const c of this.children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const ns of this.namespaces.splice(0).reverse()) deleteNamespace(ns);
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns a value or `timeoutMs` passes (bounded: no test waits forever). */
export async function waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
