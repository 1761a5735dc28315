// 802.1X through hostapd (issue 11): only authorised stations are served, the
// authorisation may start the registration, a log-off ends the session and its
// tunnel at once; the NAI resolver chain in the configured order; MN-HA keys per NAI.
import { describe, expect, it } from "vitest";
import type { LinkLayerPolicy } from "../../../src/core/config.ts";
import type { MnHaKey } from "../../../src/wire/mip-auth.ts";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { derivedNaiOf, eventsOf, expectIndependentlyAuthenticated, Harness, KEY, kinds, makeConfig, MN1, MN2, parsedRequest, REALM, REALM2, requestsIn } from "./harness.ts";

const GATED: LinkLayerPolicy = { requireAuthorised: true, registerOnAuthorised: false };
const EAGER: LinkLayerPolicy = { requireAuthorised: true, registerOnAuthorised: true };
const ALICE_KEY: MnHaKey = { spi: 0x7001, secret: new TextEncoder().encode("alice's own MN-HA key, 32 bytes!") };

describe("802.1X: only authorised stations are served", () => {
  it("an NS from a MAC hostapd has not authorised starts nothing, and is counted", () => {
    const h = new Harness(makeConfig({ linkLayer: GATED }));
    expect(h.frame(dadNeighborSolicitation(mac(MN1)))).toEqual([]);
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.counters.framesUnauthorised).toBe(1);
  });

  it("once authorised (registration at the NS), the NS registers under the EAP identity", () => {
    const h = new Harness(makeConfig({ linkLayer: GATED }));
    expect(h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" })).toEqual([]);
    const actions = h.frame(dadNeighborSolicitation(mac(MN1)));
    expect(eventsOf(actions, "session-started")[0]).toMatchObject({ nai: "alice@example.net", identitySource: "link-auth", trigger: "neighbor-solicitation" });
    expect(parsedRequest(requestsIn(actions)[0]!.bytes).message.extensions[0]).toEqual({ kind: "mn-nai", nai: "alice@example.net" });
    // Another station on the same link is still not served.
    expect(h.frame(dadNeighborSolicitation(mac(MN2)))).toEqual([]);
    expect(h.engine.counters.framesUnauthorised).toBe(1);
  });

  it("registerOnAuthorised: the authorisation itself registers, even without an EAP identity (resolver chain)", () => {
    const h = new Harness(makeConfig({ linkLayer: EAGER }));
    const actions = h.handle({ kind: "station-authorised", mac: MN1 });
    expect(eventsOf(actions, "session-started")[0]).toMatchObject({ nai: derivedNaiOf(MN1), identitySource: "derived", trigger: "station-authorised" });
    expect(requestsIn(actions)).toHaveLength(1);
  });

  it("a log-off ends the session and its tunnel at once, and the station is not served again until re-authorised", () => {
    const h = new Harness(makeConfig({ linkLayer: EAGER }));
    h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" }, 0);
    h.answerLast();
    expect(h.engine.sessionState(MN1)).toBe("bound");
    const left = h.handle({ kind: "station-left", mac: MN1 }, 5000);
    // Told first (issue 9 item 4: station-left event), then the tunnel goes and lifetime 0 is sent.
    expect(kinds(left).slice(0, 3)).toEqual(["event:station-left", "unbind", "send-signalling"]);
    expect(parsedRequest(requestsIn(left)[0]!.bytes).message.lifetime).toBe(0);
    h.answerLast({ lifetime: 0 });
    expect(h.engine.sessionCount).toBe(0);
    // Its frames now find no session and no authorisation.
    expect(h.frame(dadNeighborSolicitation(mac(MN1)), 6000)).toEqual([]);
    expect(h.engine.counters.framesUnauthorised).toBe(1);
  });

  it("without a link-layer policy every station is served (no hostapd configured)", () => {
    const h = new Harness();
    expect(eventsOf(h.frame(dadNeighborSolicitation(mac(MN1))), "session-started")).toHaveLength(1);
    expect(h.engine.counters.framesUnauthorised).toBe(0);
  });
});

describe("the NAI resolver chain in the configured order", () => {
  const provisioned = new Map([[MN1, "bob@example.net"]]);

  it("provisioned before link identity when the config says so", () => {
    const h = new Harness(makeConfig({ provisioned, identityOrder: ["provisioned", "link-auth", "derived"] }));
    const actions = h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" });
    expect(eventsOf(actions, "session-started")[0]).toMatchObject({ nai: "bob@example.net", identitySource: "provisioned" });
  });

  it("default order: the link identity first", () => {
    const h = new Harness(makeConfig({ provisioned }));
    const actions = h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" });
    expect(eventsOf(actions, "session-started")[0]).toMatchObject({ nai: "alice@example.net", identitySource: "link-auth" });
  });

  it("a chain without 'derived' refuses a station it has no identity for", () => {
    const h = new Harness(makeConfig({ identityOrder: ["link-auth", "provisioned"] }));
    const actions = h.frame(dadNeighborSolicitation(mac(MN2)));
    expect(eventsOf(actions, "refused")[0]).toMatchObject({ mac: MN2, reason: "no-identity" });
    expect(requestsIn(actions)).toHaveLength(0);
    expect(h.engine.counters.refusedNoIdentity).toBe(1);
  });
});

describe("MN-HA keys per NAI", () => {
  const naiKeys = new Map([["alice@example.net", ALICE_KEY]]);

  it("an NAI in the key table is signed with its own key and SPI", () => {
    const h = new Harness(makeConfig({ naiKeys }));
    const actions = h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" });
    const bytes = requestsIn(actions)[0]!.bytes;
    expectIndependentlyAuthenticated(bytes, ALICE_KEY);
    const auth = parsedRequest(bytes).message.extensions.find((e) => e.kind === "auth");
    expect(auth).toMatchObject({ spi: ALICE_KEY.spi });
    // The reply is checked with the same key: signed with the realm's key it is forged.
    h.answerLast({}, KEY);
    expect(h.engine.sessionState(MN1)).toBe("registering");
    h.answerLast({}, ALICE_KEY);
    expect(h.engine.sessionState(MN1)).toBe("bound");
  });

  it("an NAI not in the table falls back to the realm's key where the realm allows it", () => {
    const h = new Harness(makeConfig({ naiKeys }));
    const actions = h.handle({ kind: "station-authorised", mac: MN1, identity: "carol@example.net" });
    expectIndependentlyAuthenticated(requestsIn(actions)[0]!.bytes, KEY);
  });

  it("and is refused where it does not", () => {
    const h = new Harness(makeConfig({ naiKeys, realms: [{ ...REALM, realmKeyFallback: false }, REALM2] }));
    const actions = h.handle({ kind: "station-authorised", mac: MN1, identity: "carol@example.net" });
    expect(eventsOf(actions, "refused")[0]).toMatchObject({ reason: "no-key", detail: "carol@example.net" });
    expect(requestsIn(actions)).toHaveLength(0);
    expect(h.engine.counters.refusedNoKey).toBe(1);
    // alice has her own key: served.
    expect(requestsIn(h.handle({ kind: "station-authorised", mac: MN2, identity: "alice@example.net" }))).toHaveLength(1);
  });

  it("a reloaded table with a new key for the NAI applies from the session's next request", () => {
    const h = new Harness(makeConfig({ naiKeys }));
    h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" }, 0);
    h.answerLast({}, ALICE_KEY);
    const rotated: MnHaKey = { spi: 0x7002, secret: new TextEncoder().encode("alice's rotated key, also 32 b!!") };
    h.engine.reconfigure(makeConfig({ naiKeys: new Map([["alice@example.net", rotated]]) }));
    const left = h.handle({ kind: "station-left", mac: MN1 }, 5000);
    expectIndependentlyAuthenticated(requestsIn(left)[0]!.bytes, rotated);
  });
});
