// A real mosquitto for the fleet tests: its own temp dir and config, a free loopback
// port, started and stopped by the test (stop/start again on the same port for
// outages), killed in cleanup whatever happened.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why the broker tests cannot run here, or undefined. In CI mosquitto is installed: never skip there. */
export function mosquittoUnavailableReason(): string | undefined {
  if (process.env.CI === "true") return undefined;
  try {
    execFileSync("mosquitto", ["-h"], { stdio: "ignore" });
  } catch (e) {
    // mosquitto -h exits 3 after printing its help: only a missing binary matters.
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "mosquitto is not installed (bash build/install-deps.sh test)";
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: "127.0.0.1", port });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export interface BrokerOptions {
  /** Extra mosquitto.conf lines after the listener (e.g. TLS files); the listener line is ours. */
  readonly listenerLines?: readonly string[];
  /** Lines before the listener (global options, acl_file, ...). */
  readonly globalLines?: readonly string[];
  /** false: anonymous clients refused. */
  readonly allowAnonymous?: boolean;
  /** Run inside this network namespace (its loopback); readiness is read from the broker's log. */
  readonly netns?: string;
}

export class Broker {
  readonly dir: string;
  private proc: ChildProcess | undefined;
  log = "";

  private constructor(
    readonly port: number,
    private options: BrokerOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "an-mosquitto-"));
  }

  static async start(options: BrokerOptions = {}): Promise<Broker> {
    const b = await Broker.prepare(options);
    await b.start();
    return b;
  }

  /** A broker with its dir and port, not started: write files (passwords, certificates) first, then set options and start(). */
  static async prepare(options: BrokerOptions = {}): Promise<Broker> {
    return new Broker(await freePort(), options);
  }

  /** Replaces the options (before start). */
  configure(options: BrokerOptions): void {
    this.options = options;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** A file in the broker's temp dir (certificates, ACLs, password files). */
  file(name: string, contents: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, contents, { mode: 0o644 });
    return p;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    const conf = [
      "user root", // stays root: it reads files from the test's temp dir
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type information", // "running" once it listens (the readiness signal inside a namespace)
      ...(this.options.globalLines ?? []),
      `listener ${this.port} 127.0.0.1`,
      `allow_anonymous ${this.options.allowAnonymous ?? true}`,
      ...(this.options.listenerLines ?? []),
    ];
    const file = join(this.dir, "mosquitto.conf");
    writeFileSync(file, `${conf.join("\n")}\n`);
    const ns = this.options.netns;
    const from = this.log.length;
    const p = ns ? spawn("ip", ["netns", "exec", ns, "mosquitto", "-c", file], { stdio: ["ignore", "ignore", "pipe"] }) : spawn("mosquitto", ["-c", file], { stdio: ["ignore", "ignore", "pipe"] });
    p.stderr?.on("data", (d: Buffer) => (this.log += d.toString()));
    this.proc = p;
    for (let i = 0; i < 100; i++) {
      if (p.exitCode !== null) throw new Error(`mosquitto exited ${p.exitCode}: ${this.log}`);
      // In a namespace this process cannot connect; mosquitto logs "running" once it listens.
      if (ns ? /mosquitto version \S+ running/.test(this.log.slice(from)) : await accepting(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mosquitto not listening on ${this.port}: ${this.log}`);
  }

  /** Kills the broker (an outage); start() brings it back on the same port. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = undefined;
    if (p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGKILL");
    });
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
