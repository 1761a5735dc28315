// The trigger (draft 3.2.2 steps 3-4): the first NS/RS of an unknown MAC starts a
// session whose Registration Request is checked byte by byte.
import { describe, expect, it } from "vitest";
import { ntpFromUnixMs } from "../../../src/wire/mip-identification.ts";
import { dadNeighborSolicitation, mac, mldReport, routerSolicitation } from "../../support/frames.ts";
import {
  authVerdict,
  COA_POOL,
  derivedNaiOf,
  eventsOf,
  expectIndependentlyAuthenticated,
  FIRST_KEY,
  HA,
  HA2,
  Harness,
  KEY,
  KEY2,
  makeConfig,
  MN1,
  MN2,
  MN3,
  parsedRequest,
  requestsIn,
  sharedConfig,
  SHARED_COA,
  WALL,
} from "./harness.ts";

const IPV6_HOA_REQUEST = 120; // DEFAULT_MIP_CODEC_OPTIONS.ipv6HoaRequestType

describe("first DAD NS from an unknown MAC", () => {
  it("starts a session and sends an authenticated initial RRQ (pool mode)", () => {
    const h = new Harness();
    const actions = h.frame(dadNeighborSolicitation(mac(MN1)), 5000);
    expect(h.engine.sessionState(MN1)).toBe("registering");
    expect(eventsOf(actions, "session-started")).toEqual([
      { type: "session-started", mac: MN1, nai: derivedNaiOf(MN1), identitySource: "derived", trigger: "neighbor-solicitation", careOf: "203.0.113.10", greKey: null },
    ]);
    const [send, ...more] = requestsIn(actions);
    expect(more).toHaveLength(0);
    expect(send).toMatchObject({ from: COA_POOL[0], to: HA, toPort: 434 });
    const bytes = send!.bytes;
    const parsed = parsedRequest(bytes);
    const rrq = parsed.message;
    expect(bytes[0]).toBe(1);
    expect(rrq.flags).toEqual({ S: false, B: false, D: true, M: false, G: false, r: false, T: false, x: false });
    expect(bytes[1]).toBe(0x20);
    expect(rrq.lifetime).toBe(600);
    expect(rrq.homeAddress).toBe(0);
    expect(rrq.homeAgent).toBe(HA);
    expect(rrq.careOfAddress).toBe(COA_POOL[0]);
    // Timestamp identification (RFC 5944 5.7): NTP seconds of the wall clock at `now`.
    expect(rrq.identification >> 32n).toBe(ntpFromUnixMs(WALL + 5000) >> 32n);
    expect(rrq.extensions.map((e) => e.kind)).toEqual(["mn-nai", "ipv6-hoa-request", "revocation-support", "auth"]);
    expect(rrq.extensions[0]).toEqual({ kind: "mn-nai", nai: derivedNaiOf(MN1) });
    expect(rrq.extensions[1]).toEqual({ kind: "ipv6-hoa-request", iid: null });
    expect(rrq.extensions[2]).toEqual({ kind: "revocation-support", iBit: false, timestamp: Math.floor((WALL + 5000) / 1000) });
    // The empty IPv6 HoA Request is Type, Length 1, Sub-Type 0 (draft 4.1), right after the NAI.
    const hoaAt = parsed.spans[1]!.offset;
    expect([...bytes.subarray(hoaAt, hoaAt + 3)]).toEqual([IPV6_HOA_REQUEST, 1, 0]);
    expect(parsed.spans[3]).toEqual({ offset: bytes.length - 22, length: 22 });
    expect(rrq.extensions[3]).toMatchObject({ kind: "auth", type: 32, spi: KEY.spi });
    expectIndependentlyAuthenticated(bytes, KEY);
    expect(authVerdict(bytes, parsed, KEY)).toBe(true);
    expect(eventsOf(actions, "registration-sent")).toEqual([
      { type: "registration-sent", mac: MN1, attempt: 1, lifetime: 600, initial: true, identification: rrq.identification.toString() },
    ]);
    expect(h.engine.counters.requestsSent).toBe(1);
    expect(h.engine.counters.sessionsStarted).toBe(1);
  });

  it("leaves the Revocation Support extension out when disabled", () => {
    const h = new Harness(makeConfig({ revocationSupport: false }));
    const [send] = requestsIn(h.frame(dadNeighborSolicitation(mac(MN1))));
    const parsed = parsedRequest(send!.bytes);
    expect(parsed.message.extensions.map((e) => e.kind)).toEqual(["mn-nai", "ipv6-hoa-request", "auth"]);
    expectIndependentlyAuthenticated(send!.bytes, KEY);
  });

  it("in shared-CoA mode sets G and puts the GRE key after revocation support", () => {
    const h = new Harness(sharedConfig());
    const actions = h.frame(dadNeighborSolicitation(mac(MN1)));
    const [send] = requestsIn(actions);
    expect(send).toMatchObject({ from: SHARED_COA, to: HA });
    const rrq = parsedRequest(send!.bytes).message;
    expect(rrq.flags.G).toBe(true);
    expect(rrq.flags.D).toBe(true);
    expect(rrq.careOfAddress).toBe(SHARED_COA);
    expect(rrq.extensions.map((e) => e.kind)).toEqual(["mn-nai", "ipv6-hoa-request", "revocation-support", "gre-key", "auth"]);
    expect(rrq.extensions[3]).toEqual({ kind: "gre-key", key: FIRST_KEY });
    expectIndependentlyAuthenticated(send!.bytes, KEY);
    expect(eventsOf(actions, "session-started")[0]).toMatchObject({ careOf: "203.0.113.1", greKey: FIRST_KEY });
  });

  it("gives each MN its own CoA from the pool, lowest first", () => {
    const h = new Harness();
    const a = requestsIn(h.frame(dadNeighborSolicitation(mac(MN1))));
    const b = requestsIn(h.frame(dadNeighborSolicitation(mac(MN2))));
    expect(parsedRequest(a[0]!.bytes).message.careOfAddress).toBe(COA_POOL[0]);
    expect(parsedRequest(b[0]!.bytes).message.careOfAddress).toBe(COA_POOL[1]);
    expect(h.engine.sessionCount).toBe(2);
  });

  it("does not start a second session or RRQ on the MN's next NS", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)));
    const again = h.frame(dadNeighborSolicitation(mac(MN1)), 300);
    expect(requestsIn(again)).toHaveLength(0);
    expect(eventsOf(again, "session-started")).toHaveLength(0);
    expect(h.engine.counters.sessionsStarted).toBe(1);
  });
});

describe("other triggers and non-triggers", () => {
  it("an RS triggers as well", () => {
    const h = new Harness();
    const actions = h.frame(routerSolicitation(mac(MN1)));
    expect(eventsOf(actions, "session-started")[0]?.trigger).toBe("router-solicitation");
    expect(requestsIn(actions)).toHaveLength(1);
  });

  it("an MLD report from an unknown MAC does not trigger, and is counted; the app hears of the station (handover fetch)", () => {
    const h = new Harness();
    const actions = h.frame(mldReport(mac(MN1)));
    expect(actions).toMatchObject([{ kind: "unknown-station", mac: MN1, trigger: false }]);
    expect(h.engine.sessionCount).toBe(0);
    // issue 9 item 5: counted apart from other non-triggers (the daemon does not warn about it)
    expect(h.engine.counters.framesUnknownMnMld).toBe(1);
    expect(h.engine.counters.framesUnknownMnNonTrigger).toBe(0);
  });

  it("contextFirst (issue 10): an unknown station's NS goes to the app with its frame; register-station then starts the session from scratch, and the NS fed again is held for it", () => {
    const h = new Harness(makeConfig({ contextFirst: true }));
    const ns = dadNeighborSolicitation(mac(MN1));
    const actions = h.frame(ns);
    expect(actions).toMatchObject([{ kind: "unknown-station", mac: MN1, trigger: true }]);
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.counters.framesUnknownMnNonTrigger).toBe(0);
    const started = h.handle({ kind: "register-station", mac: MN1 });
    expect(eventsOf(started, "session-started")).toMatchObject([{ mac: MN1, trigger: "ipv6-frame" }]);
    expect(requestsIn(started)).toHaveLength(1);
    expect(h.frame(ns).filter((a) => a.kind === "unknown-station")).toEqual([]);
    expect(h.engine.sessionState(MN1)).toBe("registering");
    // A second register-station for a station with a session changes nothing.
    expect(eventsOf(h.handle({ kind: "register-station", mac: MN1 }), "session-started")).toEqual([]);
  });

  it("with triggerOn any-ipv6, an MLD report (all a Linux MN sends after moving) starts a session and is held", () => {
    const h = new Harness(makeConfig({ triggerOn: "any-ipv6" }));
    const report = mldReport(mac(MN1));
    const actions = h.frame(report);
    expect(eventsOf(actions, "session-started")[0]?.trigger).toBe("ipv6-frame");
    expect(requestsIn(actions)).toHaveLength(1);
    expect(h.engine.heldFrames).toBe(1);
    expect(h.engine.counters.framesUnknownMnNonTrigger).toBe(0);
    // Non-IPv6 frames still do not.
    const arp = mldReport(mac(MN2));
    arp.set([0x08, 0x06], 12);
    expect(h.frame(arp, 10)).toEqual([]);
    expect(h.engine.sessionCount).toBe(1);
    expect(h.engine.counters.framesNotIpv6).toBe(1);
  });

  it.each([
    ["a bad ICMPv6 checksum", { badChecksum: true }],
    ["hop limit 254", { hopLimit: 254 }],
    ["hop limit 1", { hopLimit: 1 }],
  ])("an NS with %s does not trigger", (_name, o) => {
    const h = new Harness();
    const actions = h.frame(dadNeighborSolicitation(mac(MN1), o));
    expect(actions).toEqual([]);
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.counters.framesMalformed).toBe(1);
  });

  it("a non-IPv6 frame or a runt is counted and ignored", () => {
    const h = new Harness();
    const arp = dadNeighborSolicitation(mac(MN1));
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(h.frame(arp)).toEqual([]);
    expect(h.frame(new Uint8Array(10))).toEqual([]);
    expect(h.engine.counters.framesNotIpv6).toBe(1);
    expect(h.engine.counters.framesMalformed).toBe(1);
    expect(h.engine.sessionCount).toBe(0);
  });
});

describe("identity", () => {
  it("station-authorised with an EAP identity registers at once under that NAI", () => {
    const h = new Harness();
    const actions = h.handle({ kind: "station-authorised", mac: MN1.toUpperCase(), identity: "alice@other.org" });
    expect(eventsOf(actions, "session-started")).toEqual([
      { type: "session-started", mac: MN1, nai: "alice@other.org", identitySource: "link-auth", trigger: "station-authorised", careOf: "203.0.113.10", greKey: null },
    ]);
    const [send] = requestsIn(actions);
    // The realm picks the HA and the key.
    expect(send!.to).toBe(HA2);
    const rrq = parsedRequest(send!.bytes).message;
    expect(rrq.homeAgent).toBe(HA2);
    expect(rrq.extensions[0]).toEqual({ kind: "mn-nai", nai: "alice@other.org" });
    expectIndependentlyAuthenticated(send!.bytes, KEY2);
    // The DAD NS that follows joins the session rather than starting another.
    expect(requestsIn(h.frame(dadNeighborSolicitation(mac(MN1)), 100))).toHaveLength(0);
    expect(h.engine.session(MN1)?.held.frames).toHaveLength(1);
  });

  it("station-authorised without identity waits for the NS, which then uses the derived NAI", () => {
    const h = new Harness();
    expect(h.handle({ kind: "station-authorised", mac: MN1 })).toEqual([]);
    const actions = h.frame(dadNeighborSolicitation(mac(MN1)));
    expect(eventsOf(actions, "session-started")[0]?.nai).toBe(derivedNaiOf(MN1));
  });

  it("a provisioned identity wins over the derived one", () => {
    const h = new Harness(makeConfig({ provisioned: new Map([[MN1, "bob@example.net"]]) }));
    const actions = h.frame(dadNeighborSolicitation(mac(MN1)));
    expect(eventsOf(actions, "session-started")[0]).toMatchObject({ nai: "bob@example.net", identitySource: "provisioned" });
    expect(parsedRequest(requestsIn(actions)[0]!.bytes).message.extensions[0]).toEqual({ kind: "mn-nai", nai: "bob@example.net" });
  });

  it("the derived NAI is the MAC in hex at the derived realm", () => {
    const h = new Harness();
    const actions = h.frame(dadNeighborSolicitation(mac(MN1)));
    expect(eventsOf(actions, "session-started")[0]?.nai).toBe("021122334401@example.net");
  });

  it("an identity of an unknown realm is refused with an event and nothing sent", () => {
    const h = new Harness();
    const actions = h.handle({ kind: "station-authorised", mac: MN1, identity: "carol@nowhere.test" });
    expect(eventsOf(actions, "refused")).toEqual([{ type: "refused", mac: MN1, reason: "no-realm", detail: "carol@nowhere.test" }]);
    expect(requestsIn(actions)).toHaveLength(0);
    expect(h.engine.sessionCount).toBe(0);
    expect(h.engine.counters.refusedNoRealm).toBe(1);
    // The remembered identity still applies to the NS that follows: refused again.
    expect(eventsOf(h.frame(dadNeighborSolicitation(mac(MN1))), "refused")).toHaveLength(1);
  });

  it("a second MAC claiming an NAI in use is refused", () => {
    const h = new Harness();
    h.handle({ kind: "station-authorised", mac: MN1, identity: "alice@example.net" });
    const actions = h.handle({ kind: "station-authorised", mac: MN2, identity: "alice@example.net" });
    expect(eventsOf(actions, "refused")[0]).toMatchObject({ mac: MN2, reason: "nai-in-use" });
    expect(requestsIn(actions)).toHaveLength(0);
    expect(h.engine.sessionCount).toBe(1);
    expect(h.engine.counters.refusedNaiInUse).toBe(1);
  });

  it("remembers link identities only up to the session cap (oldest forgotten first)", () => {
    // No realm serves these identities, so no session starts and only the memory remains.
    const h2 = new Harness(makeConfig({ maxSessions: 2 }));
    h2.handle({ kind: "station-authorised", mac: MN1, identity: "alice@nowhere.test" });
    h2.handle({ kind: "station-authorised", mac: MN2, identity: "bob@nowhere.test" });
    h2.handle({ kind: "station-authorised", mac: MN3, identity: "carol@nowhere.test" });
    // MN1's identity was evicted: its NS falls back to the derived NAI and registers.
    const started = eventsOf(h2.frame(dadNeighborSolicitation(mac(MN1))), "session-started");
    expect(started[0]?.nai).toBe("021122334401@example.net");
    // MN3's is still remembered: refused for its unknown realm.
    expect(eventsOf(h2.frame(dadNeighborSolicitation(mac(MN3))), "refused")[0]?.reason).toBe("no-realm");
  });
});
