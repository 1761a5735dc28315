// The fleet connection (src/io/mqtt-link.ts) against a real mosquitto: retained
// birth and will, the byte-capped queue through a broker outage, resubscription
// after the broker comes back, and drops counted.
import { afterEach, describe, expect, it } from "vitest";
import { MqttLink } from "../../../src/io/mqtt-link.ts";
import type { MqttLinkOptions } from "../../../src/io/mqtt-link.ts";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { until, Watcher } from "../../support/mqtt-watch.ts";

const skip = mosquittoUnavailableReason();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function linkOptions(url: string, over: Partial<MqttLinkOptions> = {}): MqttLinkOptions {
  return {
    url,
    clientId: "an-test",
    keepaliveS: 5,
    will: { topic: "t/an/an-test/status", payload: JSON.stringify({ state: "offline" }), qos: 1, retain: true },
    birth: () => ({ topic: "t/an/an-test/status", payload: JSON.stringify({ state: "online" }), qos: 1, retain: true }),
    subscriptions: ["t/an/an-test/config"],
    // Short delays so the test's outage ends quickly; jitter still applied.
    reconnect: { initialMs: 100, maxMs: 400, factor: 2, jitter: 0.5 },
    queueBytes: 64 * 1024,
    onMessage: () => undefined,
    ...over,
  };
}

describe.skipIf(skip !== undefined)(`fleet link against mosquitto${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("publishes a retained birth and leaves the retained will when its connection dies without a DISCONNECT", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const link = new MqttLink(linkOptions(broker.url));
    cleanups.push(() => link.close());
    await until(() => link.connected, "link connected");
    // A late subscriber still sees the birth: it is retained.
    const w = await Watcher.connect(broker.url, ["t/an/+/status"]);
    cleanups.push(() => w.close());
    const birth = await w.next<{ state: string }>("t/an/an-test/status", (v) => v.state === "online");
    expect(birth.state).toBe("online");
    expect(w.seen.find((s) => s.topic === "t/an/an-test/status")?.retain).toBe(true);
    // The TCP connection cut under the client: the broker must publish the will.
    (link as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
    const will = await w.next<{ state: string }>("t/an/an-test/status", (v) => v.state === "offline");
    expect(will.state).toBe("offline");
    // And the link comes back by itself, birth again.
    const at = w.seen.length;
    await w.next<{ state: string }>("t/an/an-test/status", (v) => v.state === "online", 10_000, at);
    expect(link.stats().connects).toBeGreaterThanOrEqual(2);
  });

  it("bounds its queue in bytes through a broker outage (oldest dropped, counted), delivers the rest after, and resubscribes", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const received: string[] = [];
    const link = new MqttLink(linkOptions(broker.url, { queueBytes: 4 * 1100, onMessage: (t, p) => received.push(`${t} ${p.toString()}`) }));
    cleanups.push(() => link.close());
    await until(() => link.connected, "link connected");
    await broker.stop();
    await until(() => !link.connected, "link noticed the outage");
    // Ten retained 1 KiB messages on distinct topics while the broker is down: only the last four fit in 4400 bytes.
    const body = "x".repeat(1000);
    for (let i = 0; i < 10; i++) expect(link.publish({ topic: `t/q/${i}`, payload: JSON.stringify({ i, body }), qos: 1, retain: true })).toBe(true);
    // Telemetry-like messages are not kept offline at all.
    expect(link.publish({ topic: "t/telemetry", payload: "{}", qos: 0, retain: false }, false)).toBe(false);
    const s = link.stats();
    expect(s.queued).toBe(4);
    expect(s.queuedBytes).toBeLessThanOrEqual(4 * 1100);
    expect(s.droppedQueueFull).toBe(6);
    expect(s.droppedOffline).toBe(1);
    // The link keeps trying (backoff) while the broker is away.
    await until(() => link.stats().connectFailures >= 2, "reconnect attempts during the outage");
    await broker.start();
    await until(() => link.connected, "link reconnected");
    await until(() => link.stats().queued === 0, "queue flushed");
    const w = await Watcher.connect(broker.url, ["t/q/#"]);
    cleanups.push(() => w.close());
    await w.next("t/q/9", () => true);
    await new Promise((r) => setTimeout(r, 200));
    const topics = [...new Set(w.seen.map((m) => m.topic))].sort();
    expect(topics).toEqual(["t/q/6", "t/q/7", "t/q/8", "t/q/9"]);
    // The subscription was made again on the new connection (the broker kept no session).
    await w.publish("t/an/an-test/config", '{"revision":1}', false);
    await until(() => received.includes('t/an/an-test/config {"revision":1}'), "message on the resubscribed topic");
  });
});
