// Context records through a real mosquitto: an-1 publishes its session's signed
// record retained on <p>/ctx/<mac> with an MQTT 5 message expiry; an-2 fetches and
// verifies it in one round trip. Forged (an attacker, or an-2 speaking as an-1),
// replayed and expired records are refused and counted; the broker itself drops a
// record whose binding lifetime ran out.
import { afterEach, describe, expect, it } from "vitest";
import { encodeContextRecord, privateKeyFromSeed, rawPublicKey } from "../../../src/app/context-record.ts";
import { FleetAgent } from "../../../src/app/fleet-agent.ts";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { Watcher } from "../../support/mqtt-watch.ts";
import { MAC, sampleContext } from "../../support/contexts.ts";
import { baseDocument, ComponentHost } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

const P = "netmip/v1";
const seed = (n: number) => Buffer.alloc(32, n);
const pub = (n: number) => rawPublicKey(privateKeyFromSeed(seed(n))).toString("hex");
const fleetKeys = { "an-1": pub(1), "an-2": pub(2) };

const hosts = new Map<FleetAgent, ComponentHost>();
async function agent(broker: Broker, id: string, n: number): Promise<FleetAgent> {
  const host = new ComponentHost(baseDocument(id, { url: broker.url, prefix: P, allowSecretsWithoutTls: true, contextKey: `hex:${seed(n).toString("hex")}`, fleetKeys }));
  const a = FleetAgent.start(host);
  if ("error" in a) throw new Error(a.error);
  cleanups.push(() => a.stop());
  hosts.set(a, host);
  for (let i = 0; i < 250 && !a.connected; i++) await new Promise((r) => setTimeout(r, 20));
  return a;
}

describe.skipIf(skip !== undefined)(`context records over mosquitto${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("hands a session's context from one AN to another; refuses forged, replayed and expired records and counts them", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const an1 = await agent(broker, "an-1", 1);
    const an2 = await agent(broker, "an-2", 2);
    const w = await Watcher.connect(broker.url, [`${P}/ctx/#`]);
    cleanups.push(() => w.close());

    expect(an1.publishContext(sampleContext({ remainingLifetimeMs: 300_000 }))).toBe(true);
    await w.next(`${P}/ctx/021122334401`);
    const seen = w.seen.find((s) => s.topic === `${P}/ctx/021122334401`)!;
    // Message expiry = the binding's remaining lifetime (the broker counts it down).
    expect(seen.packet.properties?.messageExpiryInterval).toBeGreaterThan(290);
    expect(seen.packet.properties?.messageExpiryInterval).toBeLessThanOrEqual(300);
    const got = await an2.fetchContext(MAC);
    expect(got?.nai).toBe("021122334401@example.net");
    expect(got?.identification).toBe("16045690984503098046");
    expect(got?.haLinkLayer).toBe("02:00:5e:00:53:01");
    expect(an2.stats().recordsAccepted).toBe(1);

    // The same record again (a replay of the retained message): refused.
    expect(await an2.fetchContext(MAC)).toBeUndefined();
    expect(an2.stats().recordsRejected.replayed).toBe(1);

    // An attacker with its own key, and an-2's key under an-1's name: forged.
    const attacker = privateKeyFromSeed(seed(9));
    await w.publish(`${P}/ctx/021122334401`, encodeContextRecord(sampleContext(), { signer: "an-1", seq: Date.now() + 10_000, nowWallMs: Date.now(), key: attacker }));
    expect(await an2.fetchContext(MAC)).toBeUndefined();
    await w.publish(`${P}/ctx/021122334401`, encodeContextRecord(sampleContext(), { signer: "an-1", seq: Date.now() + 20_000, nowWallMs: Date.now(), key: privateKeyFromSeed(seed(2)) }));
    expect(await an2.fetchContext(MAC)).toBeUndefined();
    expect(an2.stats().recordsRejected.forged).toBe(2);

    // A genuine but old record, re-published without expiry by someone who kept it: expired.
    const old = encodeContextRecord(sampleContext({ remainingLifetimeMs: 60_000 }), { signer: "an-1", seq: Date.now() + 30_000, nowWallMs: Date.now() - 120_000, key: privateKeyFromSeed(seed(1)) });
    await w.publish(`${P}/ctx/021122334401`, old);
    expect(await an2.fetchContext(MAC)).toBeUndefined();
    expect(an2.stats().recordsRejected.expired).toBe(1);
    expect(an2.stats().recordsAccepted).toBe(1);

    // The broker drops a record whose lifetime is over (MQTT 5 message expiry): nothing to fetch.
    expect(an1.publishContext(sampleContext({ mac: "02:11:22:33:44:02", remainingLifetimeMs: 1000 }))).toBe(true);
    await w.next(`${P}/ctx/021122334402`);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await an2.fetchContext("02:11:22:33:44:02", 300)).toBeUndefined();
    expect(an2.stats().recordsRejected.expired).toBe(1);
  });

  it("logs refused records once per reason per window (a flood of forged records is counted, not logged per record)", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const an2 = await agent(broker, "an-2", 2);
    const w = await Watcher.connect(broker.url, []);
    cleanups.push(() => w.close());
    const attacker = privateKeyFromSeed(seed(9));
    for (let i = 0; i < 5; i++) {
      await w.publish(`${P}/ctx/021122334401`, encodeContextRecord(sampleContext(), { signer: "an-1", seq: Date.now() + i, nowWallMs: Date.now(), key: attacker }));
      expect(await an2.fetchContext(MAC)).toBeUndefined();
    }
    expect(an2.stats().recordsRejected.forged).toBe(5);
    const lines = hosts
      .get(an2)!
      .logText.split("\n")
      .filter((l) => l.includes("context record rejected"))
      .map((l) => JSON.parse(l) as { level: string; reason: string; total: number });
    expect(lines).toEqual([expect.objectContaining({ level: "warn", reason: "forged", total: 1 })]);
  });
});
