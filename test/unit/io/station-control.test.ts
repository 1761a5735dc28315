// The detach command (draft 3.2.4 DAD-failure detach carried out on the link layer):
// argv with the MAC as one argument (no shell), outcomes logged and counted, a
// timeout that kills the command's process group, bounded concurrency and queue,
// and a MAC that is not station text refused before anything runs. Also the
// config field that configures it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateConfig } from "../../../src/app/config-schema.ts";
import { CommandStationControl, STDERR_KEPT } from "../../../src/io/station-control.ts";
import type { CommandStationControlOptions, DetachOutcome } from "../../../src/io/station-control.ts";

const dir = mkdtempSync(join(tmpdir(), "an-station-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MAC1 = "02:00:00:00:10:01";
const macOf = (i: number): string => `02:00:00:00:20:${i.toString(16).padStart(2, "0")}`;
let files = 0;
const file = (name: string): string => join(dir, `${++files}-${name}`);
const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, "utf8").split("\n").filter((l) => l !== "") : []);

/** `sh -c SCRIPT sh {mac} ...rest`: the MAC reaches the script as $1, never as shell text. */
const sh = (script: string, ...rest: string[]): string[] => ["/bin/sh", "-c", script, "sh", "{mac}", ...rest];

/** A control whose outcomes are collected; `next(n)` resolves once n outcomes are in. */
function control(argv: readonly string[], o: Partial<Omit<CommandStationControlOptions, "argv" | "report">> = {}) {
  const outcomes: DetachOutcome[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const c = new CommandStationControl({
    argv,
    ...o,
    report: (r) => {
      outcomes.push(r);
      for (const w of waiters.filter((x) => outcomes.length >= x.n)) w.resolve();
    },
  });
  const next = (n: number, timeoutMs = 5000): Promise<DetachOutcome[]> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${outcomes.length} of ${n} outcomes after ${timeoutMs} ms`)), timeoutMs);
      const w = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve(outcomes.slice(0, n));
        },
      };
      waiters.push(w);
      if (outcomes.length >= n) w.resolve();
    });
  return { c, outcomes, next };
}

/** Whether the process runs (a zombie waiting for its reaper does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("CommandStationControl", () => {
  it("runs the command with {mac} replaced by the station's MAC, as argv (no shell), without blocking", async () => {
    const out = file("macs");
    const { c, next } = control([...sh('printf "%s %s\\n" "$1" "$2" >> "$3"', "--station={mac}", out)]);
    const t0 = performance.now();
    c.detach(MAC1, "dad-failure");
    expect(performance.now() - t0).toBeLessThan(100); // spawned, not waited for
    expect(c.active).toBe(1);
    const [o] = await next(1);
    expect(o).toMatchObject({ mac: MAC1, reason: "dad-failure", performed: true, exitCode: 0, timedOut: false, stderr: "" });
    expect(lines(out)).toEqual([`${MAC1} --station=${MAC1}`]);
    expect(c.counters).toEqual({ requested: 1, performed: 1, failed: 0, refused: 0, coalesced: 0 });
    expect(c.idle).toBe(true);
  });

  it("a failing command is reported with its exit code and stderr (trimmed to 200 characters) and counted as failed", async () => {
    const { c, next } = control(sh('echo "  station $1 not found  " >&2; exit 3'));
    c.detach(MAC1, "dad-failure");
    const [o] = await next(1);
    expect(o).toMatchObject({ mac: MAC1, performed: false, exitCode: 3, signal: null, timedOut: false, stderr: `station ${MAC1} not found` });
    expect(o!.error).toBeUndefined();

    const long = control(sh("head -c 5000 /dev/zero | tr '\\0' x >&2; exit 1"));
    long.c.detach(MAC1, "dad-failure");
    const [l] = await long.next(1);
    expect(l!.stderr!.length).toBeLessThanOrEqual(STDERR_KEPT + 1);
    expect(l!.stderr!.startsWith("x".repeat(STDERR_KEPT))).toBe(true);
    expect(long.c.counters).toMatchObject({ requested: 1, performed: 0, failed: 1 });
  });

  it("a program that cannot start is reported (ENOENT) and counted as failed", async () => {
    const { c, next } = control([join(dir, "no-such-program"), "{mac}"]);
    c.detach(MAC1, "dad-failure");
    const [o] = await next(1);
    expect(o).toMatchObject({ performed: false, error: "ENOENT", exitCode: null });
    expect(c.counters).toMatchObject({ failed: 1, performed: 0 });
    expect(c.idle).toBe(true);
  });

  it("a hanging command is killed at the timeout, with what it started (its process group)", async () => {
    const pidFile = file("pid");
    const { c, next } = control(sh('sleep 30 & echo $! > "$2"; wait', pidFile), { timeoutMs: 300 });
    const t0 = performance.now();
    c.detach(MAC1, "dad-failure");
    const [o] = await next(1, 5000);
    const took = performance.now() - t0;
    expect(o).toMatchObject({ performed: false, timedOut: true, signal: "SIGKILL", exitCode: null });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2500);
    const grandchild = Number(readFileSync(pidFile, "utf8").trim());
    await new Promise((r) => setTimeout(r, 50));
    expect(alive(grandchild)).toBe(false);
    expect(c.counters).toMatchObject({ failed: 1 });
  });

  it("runs at most maxConcurrent commands at a time; the rest wait in a bounded queue (same MAC coalesced)", async () => {
    const log = file("overlap");
    // Each command notes its start and end; a gap keeps them overlapping if the bound failed.
    const { c, next } = control(sh('echo "+ $1" >> "$2"; sleep 0.2; echo "- $1" >> "$2"', log), { maxConcurrent: 2, maxQueued: 3 });
    for (let i = 1; i <= 5; i++) c.detach(macOf(i), "dad-failure");
    expect([c.active, c.queued]).toEqual([2, 3]);
    c.detach(macOf(5), "dad-failure"); // already waiting: one command serves both
    c.detach(macOf(6), "dad-failure"); // queue full
    expect(c.counters).toMatchObject({ requested: 7, coalesced: 1, refused: 1 });
    const outcomes = await next(6, 8000);
    expect(outcomes[0]).toMatchObject({ mac: macOf(6), performed: false, refused: "queue-full" });
    expect(outcomes.slice(1).map((o) => o.performed)).toEqual([true, true, true, true, true]);
    let running = 0;
    let most = 0;
    for (const l of lines(log)) {
      running += l.startsWith("+") ? 1 : -1;
      most = Math.max(most, running);
    }
    expect(most).toBe(2);
    // Started in queue order, two at a time: commands started together may log in either order.
    const started = lines(log).filter((l) => l.startsWith("+")).map((l) => l.slice(2));
    expect([started.slice(0, 2).sort(), started.slice(2, 4).sort(), started.slice(4)]).toEqual([[1, 2].map(macOf), [3, 4].map(macOf), [macOf(5)]]);
    expect(c.counters).toEqual({ requested: 7, performed: 5, failed: 0, refused: 1, coalesced: 1 });
    expect(c.idle).toBe(true);
  });

  it("refuses a MAC that is not lowercase aa:bb:cc:dd:ee:ff text without running anything", async () => {
    const out = file("never");
    const { c, outcomes } = control(sh('echo "$1" >> "$2"', out));
    const bad = ["AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff; touch /tmp/x", "$(id)", "", "aa:bb:cc:dd:ee:ff\n"];
    for (const m of bad) c.detach(m, "dad-failure");
    expect(outcomes.map((o) => [o.mac, o.performed, o.refused])).toEqual(bad.map((m) => [m, false, "malformed-mac"]));
    expect(c.active).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(out)).toBe(false);
    expect(c.counters).toEqual({ requested: bad.length, performed: 0, failed: 0, refused: bad.length, coalesced: 0 });
  });

  it("close kills the running commands (reported as stopped) and refuses the queued and later ones", async () => {
    const { c, next } = control(sh("sleep 30"), { maxConcurrent: 1 });
    c.detach(macOf(1), "dad-failure");
    c.detach(macOf(2), "dad-failure");
    c.close();
    c.detach(macOf(3), "dad-failure");
    const outcomes = await next(3, 3000);
    expect(outcomes.map((o) => [o.mac, o.refused ?? o.error])).toEqual([
      [macOf(2), "closed"],
      [macOf(3), "closed"],
      [macOf(1), "stopped"],
    ]);
    expect(c.idle).toBe(true);
  });

  it("refuses a command without {mac} in its arguments", () => {
    expect(() => new CommandStationControl({ argv: ["{mac}"], report: () => undefined })).toThrow(/\{mac\}/);
    expect(() => new CommandStationControl({ argv: [], report: () => undefined })).toThrow(/no program/);
  });
});

describe("config: stationControl.detachCommand", () => {
  const base = {
    nodeId: "an-1",
    access: { interface: "acc0" },
    uplink: { interface: "up0" },
    careOf: { mode: "pool", addresses: ["10.0.0.10"] },
    realms: [{ realm: "*", homeAgent: "10.0.0.2", spi: 4097, key: "hex:00112233445566778899aabbccddeeff" }],
    identity: { derivedRealm: "example.net" },
  };
  const problems = (detachCommand: unknown): string[] => {
    const v = validateConfig({ ...base, stationControl: { detachCommand } });
    return v.ok ? [] : v.problems.map((p) => `${p.path}: ${p.message}`);
  };

  it("defaults to null (detach only logged) and takes the hostapd command", () => {
    const v = validateConfig(base);
    expect(v.ok && v.config.stationControl).toEqual({ detachCommand: null });
    expect(problems(null)).toEqual([]);
    expect(problems(["hostapd_cli", "-i", "wlan0", "deauthenticate", "{mac}"])).toEqual([]);
    expect(problems(["/usr/lib/an/port-down", "--station={mac}"])).toEqual([]);
  });

  it("refuses no {mac}, {mac} only as the program, an empty program, too many or too long arguments, a NUL", () => {
    expect(problems(["hostapd_cli", "deauthenticate"])).toEqual(["stationControl.detachCommand: no argument holds {mac}"]);
    expect(problems(["{mac}"])).toHaveLength(1);
    expect(problems([])).toHaveLength(1);
    expect(problems(["", "{mac}"])).toEqual(["stationControl.detachCommand: the program (first element) is empty"]);
    expect(problems(["p", ...Array.from({ length: 15 }, () => "{mac}")])).toEqual([]);
    expect(problems(["p", ...Array.from({ length: 16 }, () => "{mac}")])).toHaveLength(1);
    expect(problems(["p", `{mac}${"x".repeat(251)}`])).toEqual([]);
    expect(problems(["p", `{mac}${"x".repeat(252)}`])).toHaveLength(1);
    expect(problems(["p", "{mac}\u0000"])).toHaveLength(1);
    expect(problems("hostapd_cli deauthenticate {mac}")).toContain("stationControl.detachCommand: Invalid input: expected array, received string");
    expect(validateConfig({ ...base, stationControl: { detachCommand: null, other: 1 } }).ok).toBe(false);
  });
});
