// Issue 10, an order we had not chosen, through the daemon's fleet wiring
// (DaemonFleet) over a real mosquitto with the real engine: A -> B -> A before B
// wrote its record. A finds its OWN record on the broker (B writes its record at its
// bind); A must ask B (to whom it released the MN) to let go, and take B's 6in4 from
// the CoA B named for the MN, not from A's own old CoA.
import { describe, expect, it } from "vitest";
import { DaemonFleet } from "../../../src/app/daemon-fleet.ts";
import type { FleetHost } from "../../../src/app/daemon-fleet.ts";
import type { EngineInput } from "../../../src/core/engine.ts";
import type { Action } from "../../../src/core/events.ts";
import { dadNeighborSolicitation, echoRequestPacket, ip6, mac, mldReport } from "../../support/frames.ts";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { until } from "../../support/mqtt-watch.ts";
import { Harness, KEY, makeConfig, MN1, ofKind, v4 } from "../../unit/core/harness.ts";
import { baseDocument, cleanupsAfterEach, ComponentHost, seed, startAgent, TEST_PREFIX, TWO_AN_KEYS } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const cleanups = cleanupsAfterEach();
const P = TEST_PREFIX;
const fleetKeys = TWO_AN_KEYS;
const B_COA = v4("198.18.0.20");
const MN_ADDRESS = "2001:db8:1::11";

/** AN `id`'s DaemonFleet over `url`, its engine a core Harness (the daemon's driver without sockets). */
function daemonFleet(url: string, id: string, n: number): { fleet: DaemonFleet; h: Harness; fed: EngineInput[]; route: (actions: Action[]) => void } {
  const component = new ComponentHost(baseDocument(id, { url, prefix: P, allowSecretsWithoutTls: true, contextKey: `hex:${seed(n).toString("hex")}`, fleetKeys, reconnect: { initialMs: 100, maxMs: 200 } }));
  const h = new Harness(makeConfig({ releaseForwardMs: 2000, peerForwardAcceptMs: 5000 }));
  const fed: EngineInput[] = [];
  // Set below: the routing needs the fleet, the fleet's host the routing.
  const ref: { fleet?: DaemonFleet } = {};
  /** The daemon's routing of the fleet's actions (action-router.ts). */
  const route = (actions: Action[]): void => {
    for (const a of actions)
      if (a.kind === "unknown-station") ref.fleet?.unknownStation(a.mac, a.frame, a.trigger);
      else if (a.kind === "context-changed") ref.fleet?.contextChanged(a.mac);
      else if (a.kind === "event") ref.fleet?.event(a.event);
  };
  const host: FleetHost = {
    log: component.log,
    board: undefined,
    config: () => component.config(),
    apply: (c) => component.apply(c),
    telemetry: () => ({}),
    sessionCount: () => h.engine.sessionCount,
    exportContext: (m) => h.engine.exportContext(h.now, m),
    hasSession: (m) => h.engine.session(m) !== undefined,
    releasable: (m, careOf) => h.engine.releasable(h.now, m, careOf),
    feed: (input) => {
      fed.push(input);
      h.engine.handle(h.now, input);
      route(h.drain());
    },
    stopping: () => false,
    wallMs: () => Date.now(),
    monotonicMs: () => Date.now(),
  };
  const fleet = DaemonFleet.start(host);
  if (!fleet) throw new Error("fleet not started");
  ref.fleet = fleet;
  cleanups.push(() => fleet.stop("test over"));
  return { fleet, h, fed, route };
}

describe.skipIf(skip !== undefined)(`handover orders through the daemon's fleet wiring${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("A -> B -> A before B wrote its record: A's own record is found, the release goes to B, and B's 6in4 from its CoA is taken", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const a = daemonFleet(broker.url, "an-1", 1);
    const { a: b, host: bHost } = await startAgent(broker.url, P, "an-2", 2, fleetKeys, (stop) => cleanups.push(stop));
    await until(() => (a.fleet.stats() as { fleet: { link: { connected: boolean } } }).fleet.link.connected, "A connected");
    // The MN attaches at A (its address learned from its DAD probe): A writes its record.
    a.route(a.h.frame(dadNeighborSolicitation(mac(MN1), { target: ip6(MN_ADDRESS) }), 0));
    a.route(a.h.answerLast({}, KEY));
    const first = { ...a.h.engine.session(MN1)!.careOf };
    expect(a.h.engine.exportContext(0, MN1)?.addresses).toContain(MN_ADDRESS);
    await new Promise((r) => setTimeout(r, 200)); // the record reaches the broker
    // B took it over (its record not written yet): A releases the session on the record's CoA.
    expect(await b.requestRelease("an-1", MN1, B_COA, undefined, { from: first })).toBe(true);
    expect(a.h.engine.session(MN1)).toBeUndefined();
    // Back at A: a non-trigger frame, the fetch finds A's own record.
    a.route(a.h.frame(mldReport(mac(MN1)), 100));
    await until(() => a.fed.some((i) => i.kind === "import-context"), "A imports the record");
    // The release goes to B, which has the MN.
    await until(() => bHost.released.length === 1, "B asked to release");
    expect(bHost.released).toEqual([MN1]);
    const again = a.h.engine.session(MN1)!;
    expect(bHost.forwardTargets).toEqual([again.careOf.address]);
    // B forwards what the HA still sends it, as 6in4 from the CoA it named: A delivers it.
    const out = a.h.tunnel(echoRequestPacket(ip6("2001:db8:2::2"), ip6(MN_ADDRESS), 1), { outerSrc: B_COA, outerDst: again.careOf.address }, 200);
    expect(ofKind(out, "to-mn")).toHaveLength(1);
    expect(a.h.engine.counters.framesForwardedFromPeer).toBe(1);
  });

  it("a late release naming the session the MN had before it came back is not served, and is counted releasesNotOurs", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const a = daemonFleet(broker.url, "an-1", 1);
    const { a: b } = await startAgent(broker.url, P, "an-2", 2, fleetKeys, (stop) => cleanups.push(stop));
    await until(() => (a.fleet.stats() as { fleet: { link: { connected: boolean } } }).fleet.link.connected, "A connected");
    a.route(a.h.frame(dadNeighborSolicitation(mac(MN1), { target: ip6(MN_ADDRESS) }), 0));
    a.route(a.h.answerLast({}, KEY));
    const first = { ...a.h.engine.session(MN1)!.careOf };
    // A hands the MN over to B (B asks, naming the session it took over).
    expect(await b.requestRelease("an-1", MN1, B_COA, undefined, { from: first })).toBe(true);
    // The MN is back at A on a new session (a fresh CoA: the first one rests).
    a.route(a.h.frame(dadNeighborSolicitation(mac(MN1), { target: ip6(MN_ADDRESS) }), 100));
    a.route(a.h.answerLast({}, KEY));
    const back = { ...a.h.engine.session(MN1)!.careOf };
    expect(back).not.toEqual(first);
    // A release from B naming the first session arrives late (B retried over an outage): not ours to let go.
    expect(await b.requestRelease("an-1", MN1, B_COA, undefined, { from: first })).toBe(false);
    expect(a.h.engine.session(MN1)?.careOf).toEqual(back);
    expect(a.h.engine.counters.releasesNotOurs).toBe(1);
    expect(a.h.engine.counters.handoversOut).toBe(1);
  });
});
