// Issue 10, the leave hold and the context record (src/app/daemon-fleet.ts): the old
// AN's window can end with no release and no revocation (an HA without RFC 3543
// revocation, a release that never came) after the new AN published its own record
// for the MN on the shared per-MAC topic. The old AN's deregistration at the window's
// end must not clear that record; a deregistration without a leave hold still clears
// the AN's own record, as before. Real mosquitto; the engine's events fed by hand.
import { describe, expect, it } from "vitest";
import { DaemonFleet } from "../../../src/app/daemon-fleet.ts";
import type { FleetHost as DaemonFleetHost } from "../../../src/app/daemon-fleet.ts";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { until, Watcher } from "../../support/mqtt-watch.ts";
import { sampleContext } from "../../support/contexts.ts";
import { baseDocument, cleanupsAfterEach, ComponentHost, seed, startAgent, TEST_PREFIX, TWO_AN_KEYS } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const cleanups = cleanupsAfterEach();

const P = TEST_PREFIX;
const fleetKeys = TWO_AN_KEYS;
const MOVED = "02:11:22:33:44:01";
const GONE = "02:11:22:33:44:02";
const topic = (mac: string) => `${P}/ctx/${mac.replace(/:/g, "")}`;

function startAn1(url: string): DaemonFleet {
  const c = new ComponentHost(baseDocument("an-1", { url, prefix: P, allowSecretsWithoutTls: true, contextKey: `hex:${seed(1).toString("hex")}`, fleetKeys, reconnect: { initialMs: 100, maxMs: 200 } }));
  const host: DaemonFleetHost = {
    log: c.log,
    board: undefined,
    config: () => c.config(),
    apply: (candidate) => c.apply(candidate),
    telemetry: () => c.telemetry(),
    sessionCount: () => 0,
    exportContext: () => undefined,
    hasSession: () => false,
    releasable: () => false,
    feed: () => undefined,
    stopping: () => false,
    wallMs: () => Date.now(),
    monotonicMs: () => performance.now(),
  };
  const f = DaemonFleet.start(host);
  if (!f) throw new Error(`an-1 fleet not started: ${c.logText}`);
  cleanups.push(() => f.stop("test over"));
  return f;
}

describe.skipIf(skip !== undefined)(`leave hold and the shared context record${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("a window that ended with no release does not clear the record the new AN published meanwhile", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const w = await Watcher.connect(broker.url, [`${P}/ctx/#`]);
    cleanups.push(() => w.close());
    const an1 = startAn1(broker.url);
    const { a: an2 } = await startAgent(broker.url, P, "an-2", 2, fleetKeys, (stop) => cleanups.push(stop));
    await until(() => (an1.stats().fleet as { link: { connected: boolean } }).link.connected, "an-1 connected");

    // The MN left an-1 (held) and registered at an-2, which published its record.
    an1.event({ type: "station-left", mac: MOVED, cause: "link", holdMs: 1500 });
    expect(an2.publishContext(sampleContext({ mac: MOVED, remainingLifetimeMs: 300_000 }))).toBe(true);
    await w.next(topic(MOVED));
    // an-1's window ends: no release, no revocation; it deregisters.
    an1.event({ type: "leave-hold-ended", mac: MOVED, outcome: "expired", frames: 0 });
    an1.event({ type: "released", mac: MOVED, reason: "deregistered" });
    // Control: a station that left with no hold (still registering, say) is cleared as before.
    an1.event({ type: "station-left", mac: GONE, cause: "link" });
    an1.event({ type: "released", mac: GONE, reason: "deregistered" });
    await until(() => w.seen.some((s) => s.topic === topic(GONE) && s.text === ""), "an-1 to clear the record of the station that left without a hold");
    const moved = w.seen.filter((s) => s.topic === topic(MOVED));
    expect(moved.map((s) => (s.text === "" ? "cleared" : (JSON.parse(s.text) as { signer?: string }).signer ?? "record"))).not.toContain("cleared");
  });
});
