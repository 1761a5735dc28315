// The handover's context step through a real mosquitto, with the real engine: the
// old AN's agent publishes the MN's signed record; the new AN's engine hears a
// non-trigger frame (an MLD report: all a moved Linux MN sends) from the unknown MAC,
// the fetch finds and verifies the record, the import registers at once (the MN's
// identification and the HA's link-layer address carried over). A flood of random
// MACs is rate-limited; with the broker down nothing is found and nothing waits.
import { describe, expect, it } from "vitest";
import { HandoverFetch } from "../../../src/app/handover-fetch.ts";
import type { Action } from "../../../src/core/events.ts";
import { parseRegistrationRequest } from "../../../src/wire/mip-registration.ts";
import { dadNeighborSolicitation, mac, mldReport } from "../../support/frames.ts";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { until } from "../../support/mqtt-watch.ts";
import { sampleContext } from "../../support/contexts.ts";
import { CODEC, HA, Harness, makeConfig, MN1, MN2 } from "../../unit/core/harness.ts";
import { cleanupsAfterEach, startAgent, TEST_PREFIX, TWO_AN_KEYS } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const cleanups = cleanupsAfterEach();
const P = TEST_PREFIX;
const fleetKeys = TWO_AN_KEYS;
const agent = (broker: Broker, id: string, n: number) => startAgent(broker.url, P, id, n, fleetKeys, (stop) => cleanups.push(stop));

describe.skipIf(skip !== undefined)(`handover context fetch over mosquitto${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("imports the record of a station that arrives with a non-trigger frame and registers at once; floods are bounded; no broker, no wait", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const { a: oldAn, host: oldHost } = await agent(broker, "an-1", 1);
    const { a: newAn } = await agent(broker, "an-2", 2);
    const record = sampleContext({ mac: MN1, homeAgent: HA, identification: "16045690984503098046" });
    expect(oldAn.publishContext(record)).toBe(true);

    const h = new Harness();
    const produced: Action[] = [];
    let releaseAnswer: boolean | undefined;
    let askedAt: number | undefined;
    const fetcher = new HandoverFetch({
      fetch: (m) => newAn.fetchRecord(m),
      importContext: ({ context, signer }, asked) => {
        askedAt = asked;
        produced.push(...h.handle({ kind: "import-context", context, resume: false }));
        // As the daemon does: the writer of the record is asked to let the MN go.
        void newAn.requestRelease(signer, context.mac, h.engine.session(context.mac)!.careOf.address).then((r) => (releaseAnswer = r));
      },
      nowMs: () => Date.now(),
      importedPauseMs: 300,
    });
    const route = (actions: Action[]): void => {
      for (const a of actions) if (a.kind === "unknown-station") fetcher.unknownStation(a.mac);
    };
    await new Promise((r) => setTimeout(r, 100));
    const heardAt = Date.now();
    route(h.frame(mldReport(mac(MN1))));
    const routedAt = Date.now();
    expect(h.engine.sessionCount).toBe(0); // not a trigger: nothing started by the frame itself
    await until(() => fetcher.stats().imported === 1, "the record imported");
    const started = produced.find((a) => a.kind === "event" && a.event.type === "session-started");
    expect(started).toMatchObject({ event: { mac: MN1, trigger: "context-import", identitySource: "context" } });
    // The import names when the frame that started the fetch was heard, not when the record came (a handover's interruption starts there).
    expect(askedAt).toBeGreaterThanOrEqual(heardAt);
    expect(askedAt).toBeLessThanOrEqual(routedAt);
    const rrq = produced.find((a) => a.kind === "send-signalling");
    expect(rrq).toBeDefined();
    const parsed = parseRegistrationRequest(rrq!.kind === "send-signalling" ? rrq!.bytes : new Uint8Array(), CODEC);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.value.message.homeAgent).toBe(HA);
      // The identification carries on from the old AN's (the HA refuses an older one).
      expect(parsed.value.message.identification > 16045690984503098046n).toBe(true);
    }
    expect(h.engine.session(MN1)?.haLinkLayer).toEqual(mac("02:00:5e:00:53:01"));
    // The old AN got the MQTT 5 request (response topic + correlation data) and answered.
    await until(() => releaseAnswer !== undefined, "the release answer");
    expect(releaseAnswer).toBe(true);
    expect(oldHost.released).toEqual([MN1]);
    expect(oldAn.stats().releasesServed).toBe(1);
    expect(newAn.stats().releasesRequested).toBe(1);
    // A second frame from the same station during the pause does not fetch again.
    route(h.frame(mldReport(mac(MN1))));
    expect(fetcher.stats().asked).toBe(1);

    // A flood of random MACs: at most a burst of fetches, the rest counted and dropped.
    for (let i = 0; i < 500; i++) fetcher.unknownStation(`02:aa:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`);
    const s = fetcher.stats();
    expect(s.asked).toBeLessThanOrEqual(1 + 20);
    expect(s.rateLimited).toBeGreaterThanOrEqual(500 - 20);
    await until(() => fetcher.stats().inFlight === 0, "the flood's fetches done");
    expect(fetcher.stats().imported).toBe(1);

    // The MN moves away (its session here is handed over) and comes back within seconds: after the
    // short pause that follows an import (not the long one after "no record") it is fetched again,
    // so a moved Linux MN, which sends no trigger, is not stranded here until the long pause ends.
    h.handle({ kind: "hand-over", mac: MN1 });
    expect(h.engine.sessionCount).toBe(0);
    // Back at an-1 meanwhile, which wrote a newer record (the one above is now a replay and refused).
    expect(oldAn.publishContext(sampleContext({ mac: MN1, homeAgent: HA, identification: "16045690984503098999" }))).toBe(true);
    const importedBefore = fetcher.stats().imported;
    const askedBefore = fetcher.stats().asked;
    await until(() => Date.now() - routedAt > 400, "the short pause after the import over");
    route(h.frame(mldReport(mac(MN1))));
    expect(fetcher.stats().asked).toBe(askedBefore + 1);
    await until(() => fetcher.stats().imported === importedBefore + 1, "the record imported again");
    expect(h.engine.session(MN1)?.nai).toBe(record.nai);

    // Broker down: the fetch answers "nothing" at once; the station is left to a fresh registration.
    await broker.stop();
    await until(() => !newAn.connected, "an-2 noticed the outage");
    // An hour's fetch timeout: were the fetch to wait for the broker, the test would time out.
    expect(await newAn.fetchContext("02:11:22:33:44:05", 3_600_000)).toBeUndefined();
  });

  it("no record (issue 10, contextFirst): the answer comes soon after the SUBACK, not at the timeout; the station is registered from scratch and its kept NS fed again; with the broker down at once", async () => {
    const broker = await Broker.start();
    cleanups.push(() => broker.cleanup());
    const { a: newAn } = await agent(broker, "an-2", 2);
    await until(() => newAn.connected, "an-2 connected");
    // An hour's timeout: only the SUBACK-then-grace answer can end this fetch in time.
    expect(await newAn.fetchRecord("02:11:22:33:44:07", 3_600_000)).toBeUndefined();

    const h = new Harness(makeConfig({ contextFirst: true }));
    const produced: Action[] = [];
    const fresh: string[] = [];
    const fetcher = new HandoverFetch({
      fetch: (m) => newAn.fetchRecord(m, 3_600_000),
      importContext: () => undefined,
      noContext: (m) => {
        fresh.push(m);
        produced.push(...h.handle({ kind: "register-station", mac: m }));
      },
      replay: (frame) => produced.push(...h.frame(frame)),
      nowMs: () => Date.now(),
    });
    const route = (actions: Action[]): void => {
      for (const a of actions) {
        if (a.kind === "unknown-station") fetcher.unknownStation(a.mac, a.frame, a.trigger);
        // As daemon-fleet.ts does: a station with a session here is out of the fetch pause.
        if (a.kind === "event" && a.event.type === "session-started") fetcher.sessionStarted(a.event.mac);
      }
    };
    const ns = dadNeighborSolicitation(mac(MN1));
    route(h.frame(ns));
    expect(h.engine.sessionCount).toBe(0); // context first: the NS waits for the fetch
    await until(() => fresh.length === 1, "the fresh registration");
    expect(fresh).toEqual([MN1]);
    expect(produced.find((a) => a.kind === "event" && a.event.type === "session-started")).toMatchObject({ event: { mac: MN1, trigger: "ipv6-frame" } });
    expect(produced.filter((a) => a.kind === "send-signalling")).toHaveLength(1);
    expect(produced.filter((a) => a.kind === "unknown-station")).toEqual([]); // the replayed NS found its session
    route(produced.splice(0));

    // It moves on (its session here handed over) and comes back within the 5 s "no record" pause:
    // it has had a session here since, so it is fetched again at once, not ignored until the pause ends.
    h.handle({ kind: "hand-over", mac: MN1 });
    const askedBefore = fetcher.stats().asked;
    route(h.frame(mldReport(mac(MN1))));
    expect(fetcher.stats().asked).toBe(askedBefore + 1);
    await until(() => fresh.length === 2, "the second fresh registration");
    fresh.splice(0);

    await broker.stop();
    await until(() => !newAn.connected, "an-2 noticed the outage");
    route(h.frame(dadNeighborSolicitation(mac(MN2))));
    await until(() => fresh.length === 1, "the fresh registration with the broker down");
    expect(h.engine.sessionState(MN2)).toBe("registering");
  });
});
