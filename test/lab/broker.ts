// The lab's fleet broker (issue 10): a real mosquitto in the core namespace, listening
// on LAB.broker (an address on the core bridge), so both ANs reach it over their
// IPv4 uplinks as they would a site broker. A per-lab temp config; stop() is an
// outage (SIGKILL), start() brings it back on the same address and port.
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import type { Lab } from "../support/netns.ts";
import { LAB } from "./lab-plan.ts";

export class LabBroker {
  private proc: ChildProcess | undefined;
  log = "";

  constructor(
    private readonly lab: Lab,
    private readonly ns: string,
    private readonly configFile: string,
    readonly port = LAB.brokerPort,
  ) {}

  get url(): string {
    return `mqtt://${LAB.broker}:${this.port}`;
  }

  /** What the demo reports: which broker and where. */
  describe(version: string): string {
    return `mosquitto ${version} at ${this.url} (core namespace)`;
  }

  /** Starts mosquitto and waits for its "running" line (this process cannot connect into the namespace). */
  async start(): Promise<void> {
    if (this.proc) return;
    writeFileSync(
      this.configFile,
      ["user root", "set_tcp_nodelay true", "persistence false", "log_dest stderr", "log_type error", "log_type warning", "log_type information", `listener ${this.port} ${LAB.broker}`, "allow_anonymous true", ""].join("\n"),
    );
    const from = this.log.length;
    const p = this.lab.spawn(this.ns, "mosquitto", ["-c", this.configFile]);
    p.stderr?.on("data", (d: Buffer) => (this.log += d.toString()));
    this.proc = p;
    for (let i = 0; i < 100; i++) {
      if (p.exitCode !== null) throw new Error(`mosquitto exited ${p.exitCode}: ${this.log}`);
      if (/mosquitto version \S+ running/.test(this.log.slice(from))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mosquitto not running on ${this.url}: ${this.log}`);
  }

  /** The mosquitto version it printed ("?" before it ran). */
  get version(): string {
    return /mosquitto version (\S+)/.exec(this.log)?.[1] ?? "?";
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Kills the broker (an outage). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = undefined;
    if (p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGKILL");
    });
  }
}
