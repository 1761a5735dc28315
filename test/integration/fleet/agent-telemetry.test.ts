// The telemetry message over mosquitto: `memory` and `fleet` come from the daemon's
// telemetry when it has them (telemetry-sampler.ts, daemon.ts), each made once per
// message; an agent whose host has none (a component host) still sends its own fleet stats.
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { Watcher } from "../../support/mqtt-watch.ts";
import { publicKeyHex, startAgent } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const P = "netmip/v1";

describe.skipIf(skip !== undefined)(`agent telemetry over mosquitto${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("memory and fleet are the host's, made once; without them the agent's fleet stats are there", async () => {
    const broker = await Broker.start();
    onTestFinished(() => broker.cleanup());
    const w = await Watcher.connect(broker.url, [`${P}/an/an-1/telemetry`]);
    onTestFinished(() => w.close());
    const { a, host } = await startAgent(broker.url, P, "an-1", 1, { "an-1": publicKeyHex(1) }, (stop) => onTestFinished(stop));

    // A component host: no memory, no fleet of its own.
    a.publishTelemetry();
    const plain = await w.next<{ fleet?: { releasesServed: number }; memory?: unknown; engine: unknown }>(`${P}/an/an-1/telemetry`);
    expect(plain.fleet?.releasesServed).toBe(0);
    expect(plain.memory).toBeUndefined();

    // A daemon-like host: its memory and fleet figures stand, and the agent makes neither again.
    const daemonLike = { memory: { rss: 1, heapUsed: 2, external: 3 }, fleet: { marker: "the daemon's" }, sessions: 0 };
    host.telemetry = () => daemonLike;
    const memoryUsage = vi.spyOn(process, "memoryUsage");
    onTestFinished(() => memoryUsage.mockRestore());
    const stats = vi.spyOn(a, "stats");
    a.publishTelemetry();
    expect(memoryUsage).not.toHaveBeenCalled();
    expect(stats).not.toHaveBeenCalled();
    const t = await w.next<{ fleet: unknown; memory: unknown }>(`${P}/an/an-1/telemetry`, (x) => (x.fleet as { marker?: string }).marker !== undefined);
    expect(t.memory).toEqual(daemonLike.memory);
    expect(t.fleet).toEqual(daemonLike.fleet);
  });
});
