// Issue 10 telemetry over a real broker: the bundled daemon (as nobody with
// CAP_NET_RAW + CAP_NET_ADMIN) and mosquitto in one network namespace, a scripted
// home agent in another (it answers each RRQ as the test says: a denial, an
// acceptance after a pause, or nothing), DAD probes injected from the MN's side.
// The telemetry message read with mosquitto_sub (an independent client) carries
// the registrations by code, the round-trip histogram of that HA, sessions by
// state, handovers and traffic each way; the SIGUSR2 log line carries the same.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RTT_BOUNDS_MS } from "../../../src/core/histogram.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../../src/wire/mip-extension.ts";
import { ReplyCode } from "../../../src/wire/mip-codes.ts";
import type { MnHaKey } from "../../../src/wire/mip-auth.ts";
import { dadNeighborSolicitation, mac, packetOf } from "../../support/frames.ts";
import { answer } from "../../support/home-agent-messages.ts";
import { Broker } from "../../support/mosquitto.ts";
import { Lab } from "../../support/netns.ts";
import type { JsonChild } from "../daemon/daemon-lab.ts";
import { AS_NOBODY_WITH_NET_CAPS, bundleDaemon, bundlePeer, daemonLabGate, daemonNamespaces, scratchDir, sleep, spawnInNetns } from "../daemon/daemon-lab.ts";

const run = daemonLabGate();
const P = "netmip/v1";
const KEY_HEX = "6b65792d6d6174657269616c2d31323334353637383930";
const KEY: MnHaKey = { spi: 4097, secret: Uint8Array.from(Buffer.from(KEY_HEX, "hex")) };
const HA = "10.0.0.2";
const COAS = ["10.0.0.10", "10.0.0.11", "10.0.0.12"];
const DENIED_MAC = "02:11:22:33:44:01";
const SLOW_MAC = "02:11:22:33:44:02";
const RETRIED_MAC = "02:11:22:33:44:03";
/** The pause before the HA accepts SLOW_MAC: its round trip is at least this. */
const PAUSE_MS = 300;

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytesOf = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));

interface Histogram {
  le: Record<string, number>;
  count: number;
  sum: number;
}
interface Telemetry {
  nodeId: string;
  sessionsByState: Record<string, number>;
  registrationsByCode: Record<string, number>;
  registrationRttMs: Record<string, Histogram>;
  handovers: { in: number; out: number; interruptionMs: Histogram };
  traffic: { uplink: { packets: number; bytes: number }; downlink: { packets: number; bytes: number } };
  memory: { rss: number; heapUsed: number };
  engine: Record<string, number>;
}

describe.skipIf(!run)("issue 10 telemetry: the daemon, mosquitto and a scripted HA in network namespaces", () => {
  const lab = new Lab("telem");
  let nsAn = "";
  let dir = "";
  let broker: Broker;
  let daemon: JsonChild | undefined;
  let peer: JsonChild | undefined;
  let injector: JsonChild | undefined;

  /** The next telemetry message on the broker (mosquitto_sub inside the AN's namespace), as text. */
  const nextTelemetry = async (): Promise<string> => {
    const r = await lab.run(nsAn, "mosquitto_sub", ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv5", "-t", `${P}/an/an-telemetry/telemetry`, "-C", "1", "-W", "4"], 10_000);
    return r.stdout.trim();
  };
  /** Polls telemetry messages until `match` holds (bounded). */
  const telemetryWhere = async (match: (t: Telemetry) => boolean): Promise<{ t: Telemetry; text: string }> => {
    let last = "";
    for (let i = 0; i < 15; i++) {
      last = await nextTelemetry();
      if (last && match(JSON.parse(last) as Telemetry)) return { t: JSON.parse(last) as Telemetry, text: last };
    }
    throw new Error(`no matching telemetry; last: ${last.slice(0, 2000)}`);
  };
  /** Injects the DAD probe of `macText` and returns the RRQ the HA then received. */
  const probe = async (macText: string): Promise<{ hex: string; from: string; port: number }> => {
    const from = peer!.lines.length;
    await injector!.request("access-send", { hex: hexOf(dadNeighborSolicitation(mac(macText))) });
    const l = await peer!.waitFor((x) => x.event === "rrq", `the RRQ for ${macText}`, 10_000, from);
    return { hex: l.hex as string, from: l.from as string, port: l.port as number };
  };
  const reply = async (rrq: { hex: string; from: string; port: number }, code: number): Promise<void> => {
    await peer!.request("udp-send", { to: rrq.from, port: rrq.port, hex: hexOf(answer(bytesOf(rrq.hex), KEY, DEFAULT_MIP_CODEC_OPTIONS, { code })) });
  };

  beforeAll(async () => {
    const ns = daemonNamespaces(lab, { ha: HA, coas: COAS });
    nsAn = ns.an;
    const [nsHa, nsMn] = [ns.ha, ns.mn];
    // Only the injected frames come from the MN's side (its kernel stays quiet: no IPv6).
    lab.exec(nsMn, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
    lab.exec(nsMn, "ip", "link", "set", "eth0", "up");
    let runDir = "";
    ({ dir, run: runDir } = scratchDir());
    const anBundle = bundleDaemon(dir);
    const peerBundle = await bundlePeer(dir);
    broker = await Broker.start({ netns: nsAn });
    const configPath = join(dir, "an.json");
    const config = {
      revision: 1,
      nodeId: "an-telemetry",
      access: { interface: "acc0" },
      uplink: { interface: "up0" },
      careOf: { mode: "pool", addresses: COAS },
      realms: [{ realm: "example.net", homeAgent: HA, spi: KEY.spi, key: `hex:${KEY_HEX}` }],
      identity: { derivedRealm: "example.net" },
      telemetry: { intervalS: 1 },
      fleet: { url: `mqtt://127.0.0.1:${broker.port}`, prefix: P, configStore: join(runDir, "remote-config.json"), allowSecretsWithoutTls: true },
    };
    writeFileSync(configPath, JSON.stringify(config), { mode: 0o644 });
    const env = { AN_NATIVE_ADDON: join(dir, "an_native.node") };
    peer = spawnInNetns(nsHa, "peer", [process.execPath, peerBundle], env);
    await peer.request("udp-listen", { address: HA, port: 434 });
    await peer.request("tunnel-open", { protocol: 41 });
    injector = spawnInNetns(nsMn, "injector", [process.execPath, peerBundle], env);
    await injector.request("access-open", { ifname: "eth0" });
    daemon = spawnInNetns(nsAn, "daemon", [...AS_NOBODY_WITH_NET_CAPS, process.execPath, anBundle, "run", "--config", configPath], env);
    await daemon.waitFor((l) => l.msg === "started", "the daemon to start", 15_000);
    await daemon.waitFor((l) => l.msg === "fleet broker connected", "the fleet connection", 15_000);
  }, 120_000);

  afterAll(async () => {
    daemon?.kill();
    peer?.kill();
    injector?.kill();
    await broker?.cleanup();
    lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("publishes registrations by code (129, 0, a timeout), the HA's round-trip histogram, sessions by state and traffic; the SIGUSR2 line agrees", async () => {
    // 129 for the first MN.
    await reply(await probe(DENIED_MAC), ReplyCode.AdministrativelyProhibited);
    // The second is accepted after a pause the test makes: its round trip is at least PAUSE_MS.
    const slow = await probe(SLOW_MAC);
    await sleep(PAUSE_MS);
    await reply(slow, ReplyCode.Accepted);
    // The third: its first request goes unanswered (a timeout), the retransmission is accepted.
    const first = await probe(RETRIED_MAC);
    const retry = await peer!.waitFor((l) => l.event === "rrq" && l.hex !== first.hex && l.from === first.from, "the retransmission", 10_000);
    await reply({ hex: retry.hex as string, from: retry.from as string, port: retry.port as number }, ReplyCode.Accepted);

    const { t, text } = await telemetryWhere((x) => (x.registrationsByCode?.["0"] ?? 0) >= 2);
    expect(t.registrationsByCode).toEqual({ "0": 2, "129": 1, timeout: 1 });
    expect(Object.keys(t.registrationRttMs)).toEqual([HA]);
    const h = t.registrationRttMs[HA]!;
    expect(h.count).toBe(3);
    expect(Object.keys(h.le)).toEqual([...RTT_BOUNDS_MS.map(String), "+Inf"]);
    expect(h.le["+Inf"]).toBe(3);
    // Cumulative; the paused one is above 200 ms, so at most two are at or below it.
    const counts = Object.values(h.le);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
    expect(h.le["200"]).toBeLessThanOrEqual(2);
    expect(h.sum).toBeGreaterThanOrEqual(PAUSE_MS);
    expect(t.sessionsByState).toEqual({ failed: 1, bound: 2 });
    expect(t.engine).toMatchObject({ repliesAccepted: 2, repliesDenied: 1, retransmissions: 1, handoversIn: 0, handoversOut: 0 });
    expect(t.handovers).toEqual({ in: 0, out: 0, interruptionMs: expect.objectContaining({ count: 0, sum: 0 }) });
    // The two bound MNs' held DAD probes went up their tunnels.
    const probeBytes = packetOf(dadNeighborSolicitation(mac(SLOW_MAC))).length;
    expect(t.traffic.uplink).toEqual({ packets: 2, bytes: 2 * probeBytes });
    expect(t.memory.rss).toBeGreaterThan(0);
    expect(text).not.toContain(KEY_HEX);

    // The local telemetry (SIGUSR2 log line) carries the same figures.
    const from = daemon!.lines.length;
    process.kill(daemon!.pid, "SIGUSR2");
    const line = (await daemon!.waitFor((l) => l.msg === "telemetry", "the telemetry line", 5000, from)).telemetry as Telemetry;
    expect(line.registrationsByCode).toEqual(t.registrationsByCode);
    expect(line.registrationRttMs).toEqual(t.registrationRttMs);
    expect(line.sessionsByState).toEqual(t.sessionsByState);
    expect(line.handovers).toEqual(t.handovers);
    expect(line.traffic).toEqual(t.traffic);
    expect(JSON.stringify(daemon!.lines)).not.toContain(KEY_HEX);
  }, 60_000);
});
