// The README's first command, `npm run demo`, kept working: the demo (build/demo.mjs
// bundling test/lab/demo.ts) runs its whole scenario against the daemon bundled from
// the current source, writes its figures and pcaps, exits 0 and leaves no namespace;
// and a Ctrl-C in the middle removes the lab too.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../lab/bundle.ts";
import { daemonOverride } from "../../lab/topology.ts";
import { hostapdUnavailableReason } from "../../lab/hostapd.ts";
import { Lab, listNamespaces, netnsUnavailableReason } from "../../support/netns.ts";
import { readPcap } from "../../support/pcap-reader.ts";

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`lab demo: skipped: ${skipReason}`);

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly pid: number;
}

/** Runs the demo; `onLine` may signal it. Bounded: SIGKILL after timeoutMs. */
function runDemo(args: readonly string[], onLine: (line: string, pid: number) => void = () => undefined, timeoutMs = 60_000): Promise<Run> {
  const child = spawn(process.execPath, [join(repoRoot, "build/demo.mjs"), ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stderr.on("data", (d: Buffer) => (stdout += d.toString()));
  createInterface({ input: child.stdout }).on("line", (l) => {
    stdout += `${l}\n`;
    onLine(l, child.pid!);
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, pid: child.pid! });
    });
  });
}

const namespacesOf = (pid: number): string[] => listNamespaces().filter((n) => n.startsWith(`demo-${pid}-`));

describe.skipIf(skipReason !== undefined)("the lab demo (npm run demo)", () => {
  let lab: Lab;
  let dir: string;
  let daemon: string;

  beforeAll(() => {
    lab = new Lab("labdemo");
    dir = lab.tempDir("lab-demo-");
    // $AN_DAEMON (CI: the x64 single executable) when set, else a bundle of the current source.
    const override = daemonOverride();
    if (override !== undefined) daemon = override;
    else {
      execFileSync(process.execPath, [join(repoRoot, "build/bundle.mjs"), "--outdir", join(dir, "daemon")], { stdio: "pipe", timeout: 120_000 });
      daemon = join(dir, "daemon/an.mjs");
    }
  }, 120_000);

  afterAll(() => lab?.cleanup());

  it("plays the whole scenario: exit 0, a timeline, the figures in --json, each AN's signalling pcap in --pcap-dir, no namespace left", async () => {
    const json = join(dir, "figures.json");
    const pcaps = join(dir, "pcaps");
    const r = await runDemo(["--daemon", daemon, "--json", json, "--pcap-dir", pcaps]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("PASS");
    expect(namespacesOf(r.pid)).toEqual([]);
    const f = JSON.parse(readFileSync(json, "utf8")) as {
      ok: boolean;
      mn: { address: string };
      attach: Record<string, number>;
      handover: { interruptionMs: number; packetsLost: number; probesSent: number; probeIntervalMs: number; addressKept: boolean; context: { over: string; signer: string } | null };
      broker: { kind: string; url?: string };
      timeline: { source: string; what: string }[];
    };
    expect(f.ok).toBe(true);
    expect(f.mn.address).toMatch(/^2001:db8:1::/);
    for (const k of ["firstFrameToRrqMs", "rrqToReplyMs", "replyToRaDeliveredMs", "raDeliveredToAddressUsableMs", "carrierUpToAddressUsableMs"]) expect(f.attach[k], k).toBeTypeOf("number");
    expect(f.handover.addressKept).toBe(true);
    expect(f.handover.interruptionMs).toBeLessThan(2_000);
    expect(f.handover.probesSent).toBeGreaterThan(0);
    // Issue 10: the fleet broker (mosquitto in the lab's core) carried AN1's context record to AN2.
    expect(f.broker).toMatchObject({ kind: "mosquitto", url: "mqtt://10.64.0.5:1883" });
    expect(r.stdout).toContain("fleet broker: mosquitto ");
    expect(f.handover.context).toEqual({ over: "broker", signer: "an1" });
    expect(f.handover.probeIntervalMs).toBe(10);
    expect(f.timeline.some((m) => m.what.startsWith("AN2 fetched the MN's context record over the broker (signer an1)"))).toBe(true);
    console.info(`demo handover (probes every 10 ms): interruption ${f.handover.interruptionMs} ms, ${f.handover.packetsLost}/${f.handover.probesSent} probes lost`);
    expect(new Set(f.timeline.map((m) => m.source))).toEqual(new Set(["demo", "AN log", "AN pcap", "HA", "MN kernel", "ping"]));
    for (const an of ["an1", "an2"]) {
      const records = readPcap(new Uint8Array(readFileSync(join(pcaps, `${an}.pcap`)))).records;
      // UDP 434 (IPv4 ethertype): the request and the reply at least.
      expect(records.filter((x) => x.data[12] === 0x08 && x.data[13] === 0x00).length, an).toBeGreaterThanOrEqual(2);
    }
  }, 90_000);

  // CI installs hostapd and wpasupplicant (.ci/run) and must not skip this.
  it.skipIf(process.env.CI !== "true" && hostapdUnavailableReason() !== undefined)("--hostapd: 802.1X first; the timeline shows EAP success -> authorised -> session started -> RRQ, under the EAP identity", async () => {
    const json = join(dir, "figures-hostapd.json");
    const r = await runDemo(["--daemon", daemon, "--json", json, "--hostapd"], undefined, 90_000);
    expect(r.code, r.stdout).toBe(0);
    expect(namespacesOf(r.pid)).toEqual([]);
    const f = JSON.parse(readFileSync(json, "utf8")) as { ok: boolean; mn: { nai: string }; timeline: { phase: string; what: string; t: number }[] };
    expect(f.ok).toBe(true);
    expect(f.mn.nai).toBe("alice@lab.example");
    for (const phase of ["attach at AN1", "handover AN1 -> AN2"]) {
      const at = (prefix: string): number => f.timeline.find((m) => m.phase === phase && m.what.startsWith(prefix))?.t ?? NaN;
      const order = [at("EAP success"), at("station authorised"), at("session started at AN"), at("RRQ sent")];
      expect(order.every(Number.isFinite), `${phase}: ${JSON.stringify(order)}`).toBe(true);
      expect([...order].sort((a, b) => a - b), phase).toEqual(order);
    }
  }, 120_000);

  it("Ctrl-C (SIGINT) in the middle of the demo removes its lab", async () => {
    let sent = false;
    let names: string[] = [];
    const r = await runDemo(["--daemon", daemon], (line, pid) => {
      if (!sent && line.includes("ok  lab up")) {
        sent = true;
        names = namespacesOf(pid);
        process.kill(pid, "SIGINT");
      }
    });
    expect(sent, r.stdout).toBe(true);
    expect(names.length).toBe(7); // sw, core, ha, cn, an1, an2, mn1
    expect(r.signal).toBe("SIGINT");
    expect(namespacesOf(r.pid)).toEqual([]);
  }, 90_000);
});
