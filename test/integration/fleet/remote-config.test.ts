// Remote configuration through a real mosquitto: the retained desired config is
// validated by the file's schema, applied (the ConfigKeeper path the daemon uses),
// persisted atomically, acknowledged retained; invalid and stale configs are
// refused with their errors while the last good config stays; inline keys need TLS;
// a restart with the broker down starts from the stored config. Telemetry and
// rate-limited events on their topics. Keys never in acks, status, telemetry, logs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FleetAgent } from "../../../src/app/fleet-agent.ts";
import type { ConfigAck } from "../../../src/app/fleet-agent.ts";
import { loadEffectiveConfig } from "../../../src/app/remote-config.ts";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { until, Watcher } from "../../support/mqtt-watch.ts";
import { baseDocument, ComponentHost, KEY2_HEX, KEY_HEX, remoteDocument } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

const P = "netmip/v1";

function startAgent(host: ComponentHost): FleetAgent {
  const a = FleetAgent.start(host, () => 0.5);
  if ("error" in a) throw new Error(a.error);
  cleanups.push(() => a.stop());
  return a;
}

async function setup(fleetOver: Record<string, unknown> = {}, docOver: Record<string, unknown> = {}) {
  const broker = await Broker.start();
  cleanups.push(() => broker.cleanup());
  const dir = mkdtempSync(join(tmpdir(), "an-fleet-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const fleet = { url: broker.url, prefix: P, configStore: join(dir, "remote-config.json"), allowSecretsWithoutTls: true, reconnect: { initialMs: 100, maxMs: 500 }, ...fleetOver };
  const doc = baseDocument("an-1", fleet, docOver);
  const configPath = join(dir, "an.json");
  writeFileSync(configPath, JSON.stringify(doc));
  const host = new ComponentHost(doc);
  const watcher = await Watcher.connect(broker.url, [`${P}/an/an-1/#`]);
  cleanups.push(() => watcher.close());
  return { broker, dir, fleet, doc, configPath, host, watcher };
}

describe.skipIf(skip !== undefined)(`remote configuration against mosquitto${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("applies a retained config, acks it retained, persists it, and changes log level and telemetry interval live", async () => {
    const { host, watcher, fleet, broker } = await setup();
    const agent = startAgent(host);
    const online = await watcher.next<{ state: string; revision: number; version: string; since: string }>(`${P}/an/an-1/status`, (s) => s.state === "online");
    expect(online.revision).toBe(1);
    expect(online.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Date.parse(online.since)).not.toBeNaN();

    await watcher.publish(`${P}/an/an-1/config`, JSON.stringify(remoteDocument(2, { log: { level: "debug" }, telemetry: { intervalS: 1 } })));
    const ack = await watcher.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === 2);
    expect(ack).toMatchObject({ nodeId: "an-1", ok: true, revision: 2, applied: 2, errors: [], persisted: true, source: `${P}/an/an-1/config` });
    expect(host.config().revision).toBe(2);
    expect(host.config().realms[0]!.key).toBe(`hex:${KEY2_HEX}`);
    // Local-only parts kept: identity and the way to the broker.
    expect(host.config().nodeId).toBe("an-1");
    expect(host.config().fleet?.url).toBe(fleet.url);
    expect(host.log.level).toBe("debug");
    // The status now names the revision in force.
    await watcher.next<{ state: string; revision: number }>(`${P}/an/an-1/status`, (s) => s.state === "online" && s.revision === 2);
    // Telemetry every second now (was 60 s): at least two messages arrive, with the daemon's counters.
    const t1 = await watcher.next<{ intervalS: number; engine: { framesFromMn: number }; fleet: { configsApplied: number } }>(`${P}/an/an-1/telemetry`);
    expect(t1.intervalS).toBe(1);
    expect(t1.engine.framesFromMn).toBe(7);
    expect(t1.fleet.configsApplied).toBe(1);
    await until(() => watcher.seen.filter((s) => s.topic.endsWith("/telemetry")).length >= 2, "second telemetry message");
    // The event stream says what happened.
    await watcher.next<{ type: string; revision: number }>(`${P}/an/an-1/events`, (e) => e.type === "config-applied" && e.revision === 2);
    // The store holds the document (mode 0600: it holds keys).
    const stored = JSON.parse(readFileSync(fleet.configStore, "utf8")) as { document: { revision: number } };
    expect(stored.document.revision).toBe(2);
    // The ack is retained: a late reader sees it.
    const late = await Watcher.connect(broker.url, [`${P}/an/an-1/config/ack`]);
    cleanups.push(() => late.close());
    expect((await late.next<ConfigAck>(`${P}/an/an-1/config/ack`)).revision).toBe(2);
    // No key anywhere the fleet can read, nor in the log.
    for (const s of watcher.seen.filter((m) => !m.topic.endsWith("/config"))) {
      expect(s.text).not.toContain(KEY_HEX);
      expect(s.text).not.toContain(KEY2_HEX);
    }
    expect(host.logText).not.toContain(KEY2_HEX);
    expect(agent.stats().configsApplied).toBe(1);
  });

  it("refuses an invalid config with every error in the ack and keeps the last good config; refuses stale revisions and configs naming another AN", async () => {
    const { host, watcher } = await setup();
    const agent = startAgent(host);
    await watcher.next(`${P}/an/an-1/status`);
    await watcher.publish(`${P}/an/an-1/config`, JSON.stringify(remoteDocument(5, { careOf: { mode: "pool", addresses: ["10.0.0.300"] }, registration: { lifetimeS: 1 }, bogus: true })));
    const bad = await watcher.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === 5);
    expect(bad.ok).toBe(false);
    expect(bad.applied).toBe(1);
    const paths = bad.errors.map((e) => e.path).sort();
    expect(paths).toEqual(expect.arrayContaining(["careOf.addresses.0", "registration.lifetimeS"]));
    expect(bad.errors.some((e) => e.path === "(root)" && /bogus/.test(e.message))).toBe(true);
    expect(host.config().revision).toBe(1);
    expect(host.applied).toHaveLength(0);

    // Not JSON at all: the ack says where, never quotes the document.
    await watcher.publish(`${P}/an/an-1/config`, `{"revision": 6, "realms": [{"key": "hex:${KEY2_HEX}"`);
    const notJson = await watcher.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === null);
    expect(notJson.errors[0]!.message).toMatch(/^invalid JSON/);
    expect(JSON.stringify(notJson)).not.toContain(KEY2_HEX);

    // A good one, then an older one: stale.
    await watcher.publish(`${P}/an/an-1/config`, JSON.stringify(remoteDocument(7)));
    await watcher.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === 7 && a.ok);
    await watcher.publish(`${P}/an/an-1/config`, JSON.stringify(remoteDocument(6)));
    const stale = await watcher.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === 6);
    expect(stale).toMatchObject({ ok: false, applied: 7 });
    expect(stale.errors[0]!.message).toMatch(/stale/);
    expect(host.config().revision).toBe(7);

    // A config may not rename the AN or move it to another broker.
    await watcher.publish(`${P}/an/an-1/config`, JSON.stringify({ ...remoteDocument(8), nodeId: "an-2", fleet: { url: "mqtt://10.9.9.9" } }));
    const foreign = await watcher.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === 8);
    expect(foreign.errors.map((e) => e.path).sort()).toEqual(["fleet", "nodeId"]);
    expect(host.config().revision).toBe(7);
    expect(agent.stats().configsRejected).toBe(4);
    // The problems were logged, the key was not.
    expect(host.logText).toContain("remote config refused");
    expect(host.logText).not.toContain(KEY2_HEX);
  });

  it("accepts inline keys over plain MQTT only with the lab option; file: references are fine", async () => {
    const { host, watcher, dir } = await setup({ allowSecretsWithoutTls: false });
    startAgent(host);
    await watcher.next(`${P}/an/an-1/status`);
    await watcher.publish(`${P}/an/an-1/config`, JSON.stringify(remoteDocument(2)));
    const refused = await watcher.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === 2);
    expect(refused.ok).toBe(false);
    expect(refused.errors).toEqual([{ path: "realms.0.key", message: expect.stringMatching(/only over TLS/) }]);
    const keyFile = join(dir, "realm.key");
    writeFileSync(keyFile, KEY2_HEX);
    await watcher.publish(`${P}/an/an-1/config`, JSON.stringify(remoteDocument(3, { realms: [{ realm: "example.net", homeAgent: "10.0.0.2", spi: 4097, key: `file:${keyFile}` }] })));
    expect((await watcher.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === 3)).ok).toBe(true);
    expect(host.config().revision).toBe(3);
  });

  it("starts from the stored config after a restart with the broker down, then reports it when the broker returns", async () => {
    const { host, watcher, broker, configPath, doc } = await setup();
    const agent = startAgent(host);
    await watcher.publish(`${P}/an/an-1/config`, JSON.stringify(remoteDocument(4, { registration: { lifetimeS: 300 } })));
    await watcher.next<ConfigAck>(`${P}/an/an-1/config/ack`, (a) => a.revision === 4 && a.ok);
    await agent.stop();
    await watcher.close();
    await broker.stop();

    // "Reboot": the daemon's start path reads the file (revision 1) and the store (revision 4).
    const eff = loadEffectiveConfig(configPath, undefined);
    expect(eff.ok).toBe(true);
    if (!eff.ok) return;
    expect(eff.source?.from).toBe("store");
    expect(eff.config.revision).toBe(4);
    expect(eff.config.registration.lifetimeS).toBe(300);
    expect(eff.config.fleet?.url).toBe((doc.fleet as { url: string }).url);
    const host2 = new ComponentHost({ ...doc, ...JSON.parse(JSON.stringify(eff.config)) });
    const agent2 = startAgent(host2);
    // No broker: the agent runs disconnected and nothing waits for it.
    agent2.event({ type: "attach-while-down" });
    await until(() => agent2.stats().link.connectFailures >= 1, "a failed connect attempt");
    expect(agent2.connected).toBe(false);
    expect(agent2.stats().link.queued).toBe(1);
    await broker.start();
    const w2 = await Watcher.connect(broker.url, [`${P}/an/an-1/#`]);
    cleanups.push(() => w2.close());
    const st = await w2.next<{ state: string; revision: number }>(`${P}/an/an-1/status`, (s) => s.state === "online");
    expect(st.revision).toBe(4);
    // A store that no longer validates is skipped, the file is used.
    writeFileSync(JSON.parse(readFileSync(configPath, "utf8")).fleet.configStore, JSON.stringify({ version: 1, document: { revision: 9, careOf: 1 } }));
    const eff2 = loadEffectiveConfig(configPath, undefined);
    expect(eff2.ok && eff2.config.revision).toBe(1);
    expect(eff2.ok && eff2.source?.note).toMatch(/no longer validates/);
  });

  it("rate-limits events with a token bucket and counts the drops", async () => {
    const { host, watcher } = await setup({ eventsPerSecond: 1 });
    const agent = startAgent(host);
    await watcher.next(`${P}/an/an-1/status`);
    for (let i = 0; i < 50; i++) agent.event({ type: "registered", mac: "02:00:00:00:00:01", n: i });
    const s = agent.stats();
    // Burst of four (1/s x4), the rest dropped at once: the queue never sees the flood.
    expect(s.eventsPublished).toBe(4);
    expect(s.eventsDropped).toBe(46);
    await until(() => watcher.seen.filter((m) => m.topic.endsWith("/events")).length === 4, "four events at the broker");
    await new Promise((r) => setTimeout(r, 200));
    expect(watcher.seen.filter((m) => m.topic.endsWith("/events")).map((m) => (JSON.parse(m.text) as { n: number }).n)).toEqual([0, 1, 2, 3]);
  });
});
