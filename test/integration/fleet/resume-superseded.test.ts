// A restarted AN in a fleet resumes its state file's sessions, but not one whose MN
// moved to another AN while it was down (src/app/resume-check.ts): the HA moved the
// binding there and its revocation of us went unheard, so our refresh (S bit clear)
// would take the binding back and get the MN's current AN revoked. The real daemon
// (bundled, as nobody) in a network namespace with mosquitto on its loopback, a
// scripted HA (the peer agent) counting the RRQs per NAI, the records on the broker
// signed by this AN ("an-a") and by another fleet AN ("an-b", seed 2), published
// with mosquitto_pub as the other AN's agent would have.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeContextRecord, privateKeyFromSeed } from "../../../src/app/context-record.ts";
import { RESUME_CHECK_MS, RESUME_HOLD_MS } from "../../../src/app/resume-check.ts";
import type { SessionContext } from "../../../src/core/context.ts";
import { parseIpv4 } from "../../../src/wire/ipv4-address.ts";
import { DEFAULT_MIP_CODEC_OPTIONS } from "../../../src/wire/mip-extension.ts";
import { parseRegistrationRequest } from "../../../src/wire/mip-registration.ts";
import { Broker } from "../../support/mosquitto.ts";
import { Lab } from "../../support/netns.ts";
import type { JsonChild } from "../daemon/daemon-lab.ts";
import { AS_NOBODY_WITH_NET_CAPS, bundleDaemon, bundlePeer, daemonLabGate, daemonNamespaces, scratchDir, sleep, spawnInNetns } from "../daemon/daemon-lab.ts";
import { publicKeyHex, seed } from "./fleet-host.ts";

const run = daemonLabGate();
const P = "netmip/v1";
const KEY_HEX = "6b65792d6d6174657269616c2d31323334353637383930";
const SPI = 4097;
const HA = "10.0.0.2";
const COAS = ["10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13"];
/** Moved to an-b after our state was saved: not resumed. */
const MOVED = "02:11:22:33:44:01";
/** Our own record on the broker: resumed. */
const OURS = "02:11:22:33:44:02";
/** No record: resumed. */
const NONE = "02:11:22:33:44:03";
/** an-b's record, but written before our state was saved (the MN came here after): resumed. */
const OLDER = "02:11:22:33:44:04";
const MACS = [MOVED, OURS, NONE, OLDER];
const naiOf = (mac: string): string => `${mac.replace(/:/g, "")}@example.net`;
const topicOf = (mac: string): string => `${P}/ctx/${mac.replace(/:/g, "")}`;

function contextOf(mac: string, i: number): SessionContext {
  return {
    version: 1,
    mac,
    nai: naiOf(mac),
    homeAgent: parseIpv4(HA)!,
    careOf: { address: parseIpv4(COAS[i]!)!, greKey: null },
    identification: "0",
    clockOffsetMs: 0,
    haLinkLayer: null,
    addresses: [],
    remainingLifetimeMs: 500_000,
    homeAddress: 0,
    heldFrames: [],
  };
}

describe.skipIf(!run)("restart in a fleet: resumed sessions whose MN moved meanwhile are dropped, not refreshed", () => {
  const lab = new Lab("resume");
  let nsAn = "";
  let dir = "";
  let anBundle = "";
  let configPath = "";
  let stateFile = "";
  let broker: Broker;
  let peer: JsonChild;
  let daemon: JsonChild | undefined;

  /** NAIs of the RRQs the HA received from line `from` on, with their lifetimes. */
  const rrqs = (from = 0): { nai: string; lifetime: number }[] =>
    peer.lines.slice(from).flatMap((l) => {
      if (l.event !== "rrq") return [];
      const p = parseRegistrationRequest(Uint8Array.from(Buffer.from(String(l.hex), "hex")), DEFAULT_MIP_CODEC_OPTIONS);
      if (!p.ok) return [];
      const ext = p.value.message.extensions.find((e) => e.kind === "mn-nai");
      return ext && ext.kind === "mn-nai" ? [{ nai: ext.nai, lifetime: Number(l.lifetime) }] : [];
    });
  const publishRetained = async (topic: string, payload: string): Promise<void> => {
    const r = await lab.run(nsAn, "mosquitto_pub", ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv5", "-q", "1", "-r", "-t", topic, "-m", payload]);
    if (r.code !== 0) throw new Error(`mosquitto_pub: ${r.stderr}`);
  };
  const retainedSigner = async (topic: string): Promise<string | undefined> => {
    const r = await lab.run(nsAn, "mosquitto_sub", ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv5", "-t", topic, "-C", "1", "-W", "2"], 10_000);
    const line = r.stdout.trim();
    return line ? (JSON.parse(JSON.parse(line).body as string) as { signer: string }).signer : undefined;
  };
  const record = (mac: string, i: number, signer: "an-a" | "an-b", issuedAt: number): string =>
    encodeContextRecord(contextOf(mac, i), { signer, seq: issuedAt, nowWallMs: issuedAt, key: privateKeyFromSeed(seed(signer === "an-a" ? 1 : 2)) });
  const writeState = (savedAtWallMs: number): void =>
    writeFileSync(stateFile, `${JSON.stringify({ version: 1, savedAtWallMs, contexts: MACS.map((m, i) => contextOf(m, i)) })}\n`, { mode: 0o666 });
  const startDaemon = async (): Promise<JsonChild> => {
    const d = spawnInNetns(nsAn, "daemon", [...AS_NOBODY_WITH_NET_CAPS, process.execPath, anBundle, "run", "--config", configPath], { AN_NATIVE_ADDON: join(dir, "an_native.node") });
    daemon = d;
    await d.waitFor((l) => l.msg === "started", "the daemon to start", 15_000);
    return d;
  };
  const telemetry = async (d: JsonChild): Promise<Record<string, Record<string, number>>> => {
    const from = d.lines.length;
    process.kill(d.pid, "SIGUSR2");
    const line = await d.waitFor((l) => l.msg === "telemetry", "telemetry line", 5000, from);
    return line.telemetry as Record<string, Record<string, number>>;
  };
  /** Every NAI in `nais` has sent an RRQ since `from` (bounded wait). */
  const waitRrqs = async (nais: string[], from: number, what: string, timeoutMs = 10_000): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const seen = new Set(rrqs(from).map((r) => r.nai));
      if (nais.every((n) => seen.has(n))) return;
      await sleep(50);
    }
    throw new Error(`${what}: RRQs seen ${JSON.stringify(rrqs(from))}; daemon: ${JSON.stringify(daemon?.lines.slice(-8))}`);
  };

  beforeAll(async () => {
    const ns = daemonNamespaces(lab, { ha: HA, coas: COAS });
    nsAn = ns.an;
    let runDir = "";
    ({ dir, run: runDir } = scratchDir());
    anBundle = bundleDaemon(dir);
    const peerBundle = await bundlePeer(dir);
    broker = await Broker.start({ netns: nsAn });
    peer = spawnInNetns(ns.ha, "peer", [process.execPath, peerBundle], { AN_NATIVE_ADDON: join(dir, "an_native.node") });
    await peer.request("udp-listen", { address: HA, port: 434 });
    await peer.request("auto-answer", { enabled: true, spi: SPI, secretHex: KEY_HEX });
    stateFile = join(runDir, "state.json");
    configPath = join(dir, "an.json");
    const config = {
      revision: 1,
      nodeId: "an-a",
      stateFile,
      access: { interface: "acc0" },
      uplink: { interface: "up0" },
      careOf: { mode: "pool", addresses: COAS },
      realms: [{ realm: "example.net", homeAgent: HA, spi: SPI, key: `hex:${KEY_HEX}` }],
      identity: { derivedRealm: "example.net" },
      registration: { lifetimeS: 600 },
      telemetry: { intervalS: 0 },
      shutdown: { deregister: false },
      fleet: {
        url: `mqtt://127.0.0.1:${broker.port}`,
        prefix: P,
        allowSecretsWithoutTls: true,
        contextKey: `hex:${seed(1).toString("hex")}`,
        fleetKeys: { "an-a": publicKeyHex(1), "an-b": publicKeyHex(2) },
        reconnect: { initialMs: 200, maxMs: 1000 },
      },
    };
    writeFileSync(configPath, JSON.stringify(config), { mode: 0o644 });
  }, 120_000);

  afterAll(async () => {
    daemon?.kill();
    peer?.kill();
    await broker?.cleanup();
    lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("sends no registration for the MN another AN bound after our state was saved, and counts it; the others refresh at once", async () => {
    const now = Date.now();
    const savedAt = now - 10_000;
    writeState(savedAt);
    await publishRetained(topicOf(MOVED), record(MOVED, 0, "an-b", now - 2000)); // an-b bound it while we were down
    await publishRetained(topicOf(OURS), record(OURS, 1, "an-a", savedAt - 30_000));
    await publishRetained(topicOf(OLDER), record(OLDER, 3, "an-b", savedAt - 60_000)); // then it came to us
    const from = peer.lines.length;
    const d = await startDaemon();
    await waitRrqs([OURS, NONE, OLDER].map(naiOf), from, "the resumed sessions' refreshes");
    // The engine's own hold would have sent the refresh by now (it is only RESUME_HOLD_MS from the restore): none came.
    await sleep(RESUME_HOLD_MS + 1000);
    const sent = rrqs(from);
    expect(sent.filter((r) => r.nai === naiOf(MOVED)), JSON.stringify(sent)).toEqual([]);
    expect(sent.filter((r) => r.nai !== naiOf(MOVED)).every((r) => r.lifetime > 0)).toBe(true);
    const t = await telemetry(d);
    expect(t.engine!.resumesSuperseded).toBe(1);
    expect((t as unknown as { sessions: number }).sessions).toBe(3);

    expect(d.lines.find((l) => l.msg === "state restored")).toMatchObject({ restored: 4, refreshHeldMs: RESUME_HOLD_MS });
    const done = await d.waitFor((l) => l.msg === "resume check done", "the resume check", 5000);
    expect(done).toMatchObject({ resumed: 4, checked: 4, superseded: 1, unchecked: 0, broker: "connected" });
    const superseded = d.lines.find((l) => l.msg === "resumed session superseded: another AN bound the MN while we were down; dropped without a refresh");
    expect(superseded).toMatchObject({ mac: MOVED, by: "an-b" });
    expect(d.lines.find((l) => l.msg === "resume-superseded")?.event).toEqual({ type: "resume-superseded", mac: MOVED, by: "an-b" });
    expect(d.lines.find((l) => l.msg === "released" && (l.event as { mac: string }).mac === MOVED)?.event).toMatchObject({ reason: "superseded" });
    // an-b's record stays (our drop does not clear it); ours was refreshed and published again.
    expect(await retainedSigner(topicOf(MOVED))).toBe("an-b");
    // The state file forgets the dropped session (written within a second of the release).
    let kept: string[] = [];
    for (let i = 0; i < 40; i++) {
      kept = (JSON.parse(readFileSync(stateFile, "utf8")) as { contexts: { mac: string }[] }).contexts.map((c) => c.mac).sort();
      if (!kept.includes(MOVED)) break;
      await sleep(100);
    }
    expect(kept).toEqual([OURS, NONE, OLDER].sort());
  }, 60_000);

  it("with the broker down, resumes and refreshes every session within the bound", async () => {
    daemon?.kill();
    await daemon?.waitExit(5000);
    await broker.stop();
    writeState(Date.now() - 10_000);
    const from = peer.lines.length;
    const startedAt = Date.now();
    const d = await startDaemon();
    await waitRrqs(MACS.map(naiOf), from, "the refreshes with the broker down", 15_000);
    const took = Date.now() - startedAt;
    // Bounded: the check gives up RESUME_CHECK_MS after the start (plus the daemon's own start-up, generous).
    expect(took, `refreshes ${took} ms after spawning`).toBeLessThan(RESUME_HOLD_MS + 8000);
    expect(rrqs(from).every((r) => r.lifetime > 0)).toBe(true);
    const t = await telemetry(d);
    expect(t.engine!.resumesSuperseded).toBe(0);
    expect((t as unknown as { sessions: number }).sessions).toBe(4);
    const done = await d.waitFor((l) => l.msg === "resume check done", "the resume check", 5000);
    expect(done).toMatchObject({ resumed: 4, checked: 0, superseded: 0, unchecked: 4, broker: "unreachable" });
    expect(RESUME_CHECK_MS).toBeLessThan(RESUME_HOLD_MS);
  }, 60_000);
});
