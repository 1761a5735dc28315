// Network namespaces for tests: unique names per run, commands run inside them,
// and a cleanup that removes everything the test made even when it failed.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";

/** Root (or CI, where root is promised) is needed; elsewhere the suite skips and says why. */
export function netnsUnavailableReason(): string | undefined {
  if (process.env.CI === "true") return undefined; // CI runs as root: a failure there must be loud
  if (process.getuid?.() !== 0) return "needs root for network namespaces (CI runs these as root)";
  return undefined;
}

let counter = 0;

export class Lab {
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  readonly tag: string;

  constructor(label: string) {
    this.tag = `${label}${process.pid % 10000}x${counter++}`;
  }

  /** Creates a namespace with loopback up; the name is unique to this run. */
  netns(role: string): string {
    const name = `${this.tag}-${role}`;
    execFileSync("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    this.exec(name, "ip", "link", "set", "lo", "up");
    return name;
  }

  /** Runs a command in a namespace and returns its stdout; throws with stderr on failure. */
  exec(ns: string, ...cmd: string[]): string {
    return execFileSync("ip", ["netns", "exec", ns, ...cmd], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  /** A veth pair with one end in each namespace; names are short enough for IFNAMSIZ. */
  veth(nsA: string, ifA: string, nsB: string, ifB: string): void {
    const tmpA = `v${counter++}a${process.pid % 100000}`.slice(0, 15);
    const tmpB = `v${counter++}b${process.pid % 100000}`.slice(0, 15);
    execFileSync("ip", ["link", "add", tmpA, "type", "veth", "peer", "name", tmpB]);
    execFileSync("ip", ["link", "set", tmpA, "netns", nsA]);
    execFileSync("ip", ["link", "set", tmpB, "netns", nsB]);
    this.exec(nsA, "ip", "link", "set", tmpA, "name", ifA);
    this.exec(nsB, "ip", "link", "set", tmpB, "name", ifB);
  }

  spawn(ns: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.children.push(child);
    return child;
  }

  /** Removes every namespace (and with it every veth end inside) and stops children. */
  cleanup(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGKILL");
    for (const ns of this.namespaces.reverse()) {
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
      } catch {
        // Already gone: nothing left to clean.
      }
    }
    this.namespaces.length = 0;
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
