// The real daemon (bundled, as nobody with CAP_NET_RAW + CAP_NET_ADMIN) in a network
// namespace with a mosquitto on that namespace's loopback; the operator's side is
// mosquitto_pub / mosquitto_sub (independent clients). Config round trip with ack,
// an invalid config refused with the old one kept, the retained will when the
// daemon is SIGKILLed, and a restart with the broker down starting from the stored
// config, then reporting it once the broker is back.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonChild } from "../daemon/daemon-lab.ts";
import { AS_NOBODY_WITH_NET_CAPS, bundleDaemon, daemonLabGate, scratchDir, spawnInNetns } from "../daemon/daemon-lab.ts";
import { Lab } from "../../support/netns.ts";
import { Broker } from "../../support/mosquitto.ts";

const run = daemonLabGate();
const P = "netmip/v1";
const KEY_HEX = "6b65792d6d6174657269616c2d31323334353637383930";
const KEY2_HEX = "00112233445566778899aabbccddeeff";

describe.skipIf(!run)("an run with the fleet: the daemon and mosquitto in a network namespace", () => {
  const lab = new Lab("fleetd");
  let ns = "";
  let dir = "";
  let runDir = "";
  let configPath = "";
  let anBundle = "";
  let broker: Broker;
  let daemon: JsonChild | undefined;

  const sub = async (topic: string): Promise<Record<string, unknown> | undefined> => {
    // The retained message, if any, within 3 s (-W); -C 1: one message.
    const r = await lab.run(ns, "mosquitto_sub", ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv5", "-t", topic, "-C", "1", "-W", "3"], 10_000);
    const line = r.stdout.trim();
    return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
  };
  /** Polls the retained message on `topic` until `match` holds (bounded). */
  const retained = async (topic: string, match: (v: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> => {
    let last: Record<string, unknown> | undefined;
    for (let i = 0; i < 20; i++) {
      last = await sub(topic);
      if (last && match(last)) return last;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no retained ${what} on ${topic}; last: ${JSON.stringify(last)}; daemon: ${JSON.stringify(daemon?.lines.slice(-5))}`);
  };
  const pub = async (topic: string, payload: string): Promise<void> => {
    const r = await lab.run(ns, "mosquitto_pub", ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv5", "-q", "1", "-r", "-t", topic, "-m", payload]);
    if (r.code !== 0) throw new Error(`mosquitto_pub: ${r.stderr}`);
  };
  const remote = (revision: number, over: Record<string, unknown> = {}) => ({
    revision,
    access: { interface: "acc0" },
    uplink: { interface: "up0" },
    careOf: { mode: "pool", addresses: ["10.0.0.10"] },
    realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: `hex:${KEY2_HEX}` }],
    identity: { derivedRealm: "example.net" },
    telemetry: { intervalS: 0 },
    ...over,
  });
  const startDaemon = async (): Promise<JsonChild> => {
    const d = spawnInNetns(ns, "daemon", [...AS_NOBODY_WITH_NET_CAPS, process.execPath, anBundle, "run", "--config", configPath], { AN_NATIVE_ADDON: join(dir, "an_native.node") });
    daemon = d;
    await d.waitFor((l) => l.msg === "started", "the daemon to start", 15_000);
    return d;
  };

  beforeAll(async () => {
    ns = lab.netns("an");
    const nsHa = lab.netns("ha");
    const nsMn = lab.netns("mn");
    lab.exec(ns, "sysctl", "-q", "-w", "net.ipv4.ip_unprivileged_port_start=434");
    lab.veth(ns, "up0", nsHa, "ha0");
    lab.veth(ns, "acc0", nsMn, "eth0");
    lab.exec(ns, "ip", "addr", "add", "10.0.0.10/24", "dev", "up0");
    lab.exec(ns, "ip", "link", "set", "up0", "up");
    lab.exec(ns, "ip", "link", "set", "acc0", "up");
    ({ dir, run: runDir } = scratchDir());
    anBundle = bundleDaemon(dir);
    broker = await Broker.start({ netns: ns });
    configPath = join(dir, "an.json");
    const config = {
      revision: 1,
      nodeId: "an-fleet",
      access: { interface: "acc0" },
      uplink: { interface: "up0" },
      careOf: { mode: "pool", addresses: ["10.0.0.10"] },
      realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: `hex:${KEY_HEX}` }],
      identity: { derivedRealm: "example.net" },
      telemetry: { intervalS: 0 },
      fleet: { url: `mqtt://127.0.0.1:${broker.port}`, prefix: P, configStore: join(runDir, "remote-config.json"), allowSecretsWithoutTls: true, reconnect: { initialMs: 200, maxMs: 1000 } },
    };
    writeFileSync(configPath, JSON.stringify(config), { mode: 0o644 });
  }, 120_000);

  afterAll(async () => {
    daemon?.kill();
    await broker?.cleanup();
    lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("applies a pushed config live and acks it; refuses an invalid one with its errors and keeps the last good config", async () => {
    const d = await startDaemon();
    await d.waitFor((l) => l.msg === "fleet broker connected", "the fleet connection");
    const online = await retained(`${P}/an/an-fleet/status`, (s) => s.state === "online", "birth");
    expect(online.revision).toBe(1);
    // The operator's tool, the same bundled binary, lists it from the retained status.
    const listed = await lab.run(ns, process.execPath, [anBundle, "fleet", "list", "--broker", `mqtt://127.0.0.1:${broker.port}`, "--prefix", P]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^an-fleet\tonline\t\S+\t1\t0\t/m);

    await pub(`${P}/an/an-fleet/config`, JSON.stringify(remote(2, { log: { level: "debug" }, telemetry: { intervalS: 1 } })));
    const ack = await retained(`${P}/an/an-fleet/config/ack`, (a) => a.revision === 2, "ack of revision 2");
    expect(ack).toMatchObject({ ok: true, applied: 2, persisted: true, errors: [] });
    const reloaded = await d.waitFor((l) => l.msg === "config reloaded", "the daemon's reload");
    expect(reloaded.revision).toBe(2);
    expect(reloaded.level).toBe("debug");
    expect((await retained(`${P}/an/an-fleet/status`, (s) => s.revision === 2, "status of revision 2")).state).toBe("online");
    // Telemetry every second now: the daemon's counters (as SIGUSR2 logs them) plus sessions by state and the fleet link.
    const t = await sub(`${P}/an/an-fleet/telemetry`);
    expect(t).toMatchObject({ nodeId: "an-fleet", revision: 2, intervalS: 1, sessions: 0, sessionsByState: {} });
    expect(typeof (t!.engine as Record<string, number>).framesFromMn).toBe("number");
    expect((t!.fleet as { link: { connected: boolean } }).link.connected).toBe(true);

    // Pushed with `an fleet push`: exit 1, every error printed, revision 2 stays.
    writeFileSync(join(dir, "bad.json"), JSON.stringify(remote(3, { careOf: { mode: "pool", addresses: [] }, limits: { maxSessions: 0 } })));
    const pushed = await lab.run(ns, process.execPath, [anBundle, "fleet", "push", "--broker", `mqtt://127.0.0.1:${broker.port}`, "--prefix", P, "--node", "an-fleet", "--file", join(dir, "bad.json")]);
    expect(pushed.code).toBe(1);
    expect(pushed.stdout).toContain("an-fleet: revision 3 refused, 2 stays in force:");
    expect(pushed.stdout).toMatch(/^ {2}careOf\.addresses: /m);
    const bad = await retained(`${P}/an/an-fleet/config/ack`, (a) => a.revision === 3, "ack of revision 3");
    expect(bad.ok).toBe(false);
    expect(bad.applied).toBe(2);
    expect((bad.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(["careOf.addresses", "limits.maxSessions"]);
    // Nothing the daemon wrote holds a key.
    const all = d.lines.map((l) => JSON.stringify(l)).join("\n");
    expect(all).not.toContain(KEY_HEX);
    expect(all).not.toContain(KEY2_HEX);
  });

  it("leaves the retained offline will when killed, and after a restart with the broker down starts from the stored config", async () => {
    const d = daemon!;
    d.kill();
    await d.waitExit(5000);
    const will = await retained(`${P}/an/an-fleet/status`, (s) => s.state === "offline", "will");
    expect(will.cause).toBe("connection lost");

    // Reboot without a broker: the stored revision 2 is in force, not the file's 1.
    await broker.stop();
    const d2 = await startDaemon();
    const started = d2.lines.find((l) => l.msg === "started")!;
    expect(started.revision).toBe(2);
    expect(started.configFrom).toEqual({ from: "store" });
    // It serves without the broker; once the broker is back it reports revision 2 (persistence false: nothing retained survived).
    await broker.start();
    const st = await retained(`${P}/an/an-fleet/status`, (s) => s.state === "online", "birth after the outage");
    expect(st.revision).toBe(2);
    // A clean stop replaces the retained status with offline (no will needed).
    process.kill(d2.pid, "SIGTERM");
    expect((await d2.waitExit(10_000)).code).toBe(0);
    const off = await retained(`${P}/an/an-fleet/status`, (s) => s.state === "offline", "offline at stop");
    expect(off.cause).toBe("SIGTERM");
  });
});
