// The session as a context record (draft 3.2.3 handover; restart): export, JSON
// round trip through validateContext, import as a handover or as a resume.
import { describe, expect, it } from "vitest";
import { validateContext } from "../../../src/core/context.ts";
import type { SessionContext } from "../../../src/core/context.ts";
import { dadNeighborSolicitation, dataFrame, echoRequestPacket, ip6, linkLocalOf, mac, packetOf, routerAdvertisementPacket, routerSolicitation } from "../../support/frames.ts";
import { COA_POOL, derivedNaiOf, eventsOf, expectIndependentlyAuthenticated, HA, HA_MAC, Harness, KEY, kinds, makeConfig, MN1, ofKind, parsedRequest, requestsIn, v4 } from "./harness.ts";

const HA_LLA = ip6("fe80::1");
const ROUTER = mac("02:00:5e:00:53:99");

/** MN1 bound on an AN at t=0, an RA learned, then exported at `at`. */
function exported(at = 100_000): { old: Harness; ctx: SessionContext; boundId: bigint } {
  const old = new Harness();
  old.register(MN1, 0);
  old.tunnel(routerAdvertisementPacket({ src: HA_LLA, slla: HA_MAC }), { outerDst: COA_POOL[0]! }, 50);
  old.frame(routerSolicitation(mac(MN1)), 60);
  const boundId = parsedRequest(old.lastRequest()).message.identification;
  const ctx = old.engine.exportContext(at, MN1)!;
  return { old, ctx, boundId };
}

function roundTrip(ctx: SessionContext): SessionContext {
  const v = validateContext(JSON.parse(JSON.stringify(ctx)));
  if (!v.ok) throw new Error(`${v.error.field}: ${v.error.problem}`);
  return v.value;
}

describe("exportContext", () => {
  it("carries NAI, HA, CoA, identification, learned LLA and addresses, remaining lifetime", () => {
    const { ctx, boundId } = exported(100_000);
    expect(ctx).toEqual({
      version: 1,
      mac: MN1,
      nai: derivedNaiOf(MN1),
      homeAgent: HA,
      careOf: { address: COA_POOL[0], greKey: null },
      identification: boundId.toString(),
      clockOffsetMs: 0,
      haLinkLayer: "02:00:5e:00:53:01",
      addresses: ["fe80::11:22ff:fe33:4401"],
      remainingLifetimeMs: 500_000,
      homeAddress: 0,
      heldFrames: [],
    });
    expect(roundTrip(ctx)).toEqual(ctx);
  });

  it("of a registering session carries the held frames and no lifetime", () => {
    const h = new Harness();
    const ns = dadNeighborSolicitation(mac(MN1));
    h.frame(ns, 0);
    const ctx = h.engine.exportContext(10, MN1)!;
    expect(ctx.remainingLifetimeMs).toBe(0);
    expect(ctx.heldFrames).toEqual([Buffer.from(ns).toString("hex")]);
    expect(roundTrip(ctx)).toEqual(ctx);
  });

  it("of an unknown MAC is undefined", () => {
    expect(new Harness().engine.exportContext(0, MN1)).toBeUndefined();
  });
});

describe("import as handover (a new AN)", () => {
  it("registers anew at once with the IPv6 HoA Request and an identification above the exported one", () => {
    const { ctx } = exported(100_000);
    // The new AN's clock reads earlier than the old one's did: the identification must still grow.
    const next = new Harness(makeConfig({ careOf: { mode: "pool", addresses: [v4("203.0.113.50")] } }));
    const actions = next.handle({ kind: "import-context", context: roundTrip(ctx), resume: false }, 0);
    expect(eventsOf(actions, "session-started")[0]).toMatchObject({ mac: MN1, nai: ctx.nai, trigger: "context-import", careOf: "203.0.113.50" });
    const [send] = requestsIn(actions);
    const rrq = parsedRequest(send!.bytes).message;
    expect(rrq.identification).toBeGreaterThan(BigInt(ctx.identification));
    expect(rrq.careOfAddress).toBe(v4("203.0.113.50"));
    expect(rrq.lifetime).toBe(600);
    expect(rrq.extensions.map((e) => e.kind)).toEqual(["mn-nai", "ipv6-hoa-request", "revocation-support", "auth"]);
    expectIndependentlyAuthenticated(send!.bytes, KEY);
    expect(ofKind(actions, "bind")).toEqual([]);
    expect(next.engine.sessionState(MN1)).toBe("registering");
    expect(next.engine.counters.contextsImported).toBe(1);

    next.answerLast();
    expect(next.engine.sessionState(MN1)).toBe("bound");
    // The LLA learned by the old AN is the downlink source at once.
    const down = next.tunnel(echoRequestPacket(ip6("2001:db8::7"), linkLocalOf(mac(MN1)), 1), { outerDst: v4("203.0.113.50") }, 10);
    expect(ofKind(down, "to-mn")[0]!.src).toEqual(HA_MAC);
  });

  it("releases the frames held at the old AN after the new binding", () => {
    const old = new Harness();
    const ns = dadNeighborSolicitation(mac(MN1));
    old.frame(ns, 0);
    const ctx = roundTrip(old.engine.exportContext(10, MN1)!);
    const next = new Harness();
    next.handle({ kind: "import-context", context: ctx, resume: false }, 0);
    expect(next.engine.heldFrames).toBe(1);
    const [t] = ofKind(next.answerLast(), "to-tunnel");
    expect([...t!.packet]).toEqual([...packetOf(ns)]);
  });

  it("replaces a local session of the same MAC", () => {
    const { ctx } = exported();
    const next = new Harness();
    next.register(MN1, 0);
    const actions = next.handle({ kind: "import-context", context: ctx, resume: false }, 100);
    expect(eventsOf(actions, "released")[0]).toMatchObject({ mac: MN1, reason: "handed-over" });
    expect(ofKind(actions, "unbind")).toHaveLength(1);
    expect(next.engine.sessionCount).toBe(1);
  });

  it("is rejected for an unknown realm or a different HA", () => {
    const { ctx } = exported();
    const next = new Harness();
    expect(next.handle({ kind: "import-context", context: { ...ctx, nai: "x@nowhere.test" }, resume: false })).toEqual([]);
    expect(next.handle({ kind: "import-context", context: { ...ctx, homeAgent: v4("192.0.2.99") }, resume: false })).toEqual([]);
    expect(next.engine.counters.contextsRejected).toBe(2);
    expect(next.engine.sessionCount).toBe(0);
  });
});

describe("import as resume (our own record after a restart)", () => {
  it("keeps the CoA, binds and forwards at once, and sends a renewal", () => {
    const { ctx } = exported(100_000);
    const restarted = new Harness();
    const actions = restarted.handle({ kind: "import-context", context: roundTrip(ctx), resume: true }, 0);
    expect(kinds(actions).slice(0, 2)).toEqual(["event:session-started", "bind"]);
    expect(ofKind(actions, "bind")[0]!.tunnel).toEqual({ careOf: COA_POOL[0], homeAgent: HA, greKey: null });
    const [send] = requestsIn(actions);
    const rrq = parsedRequest(send!.bytes).message;
    expect(rrq.careOfAddress).toBe(COA_POOL[0]);
    expect(rrq.extensions.map((e) => e.kind)).toEqual(["mn-nai", "revocation-support", "auth"]);
    expect(rrq.identification).toBeGreaterThan(BigInt(ctx.identification));
    expect(restarted.engine.sessionState(MN1)).toBe("renewing");
    expect(restarted.engine.session(MN1)?.expiresAt).toBe(500_000);
    expect(ofKind(restarted.frame(dataFrame(mac(MN1), ROUTER, ip6("2001:db8::1")), 10), "to-tunnel")).toHaveLength(1);
    const refreshed = restarted.answerLast();
    expect(eventsOf(refreshed, "refreshed")).toHaveLength(1);
    expect(restarted.engine.sessionState(MN1)).toBe("bound");
  });

  it("holdRefreshMs: forwards at once, sends the refresh only on resume-checked (or when the hold runs out)", () => {
    const { ctx } = exported(100_000);
    const restarted = new Harness();
    const actions = restarted.handle({ kind: "import-context", context: roundTrip(ctx), resume: true, holdRefreshMs: 3000 }, 0);
    expect(kinds(actions).slice(0, 2)).toEqual(["event:session-started", "bind"]);
    expect(requestsIn(actions)).toEqual([]);
    expect(ofKind(restarted.frame(dataFrame(mac(MN1), ROUTER, ip6("2001:db8::1")), 10), "to-tunnel")).toHaveLength(1);
    expect(requestsIn(restarted.advanceTo(2999))).toEqual([]);
    const checked = restarted.handle({ kind: "resume-checked", mac: MN1 }, 2999);
    expect(requestsIn(checked)).toHaveLength(1);
    expect(parsedRequest(requestsIn(checked)[0]!.bytes).message.lifetime).toBeGreaterThan(0);
    // A second verdict (or a late one) changes nothing.
    expect(restarted.handle({ kind: "resume-checked", mac: MN1, supersededBy: "an-b" }, 3100)).toEqual([]);
    expect(eventsOf(restarted.answerLast(), "refreshed")).toHaveLength(1);
    expect(restarted.engine.counters.resumesSuperseded).toBe(0);
  });

  it("holdRefreshMs with no verdict: the hold's end sends the refresh, and a verdict after it is ignored", () => {
    const { ctx } = exported(100_000);
    const restarted = new Harness();
    restarted.handle({ kind: "import-context", context: roundTrip(ctx), resume: true, holdRefreshMs: 3000 }, 0);
    expect(requestsIn(restarted.advanceTo(3000))).toHaveLength(1);
    expect(restarted.handle({ kind: "resume-checked", mac: MN1, supersededBy: "an-b" }, 3100)).toEqual([]);
    expect(restarted.engine.sessionState(MN1)).toBe("renewing");
    expect(restarted.engine.counters.resumesSuperseded).toBe(0);
  });

  it("superseded: the session goes without any request (no refresh, no deregistration), counted and told", () => {
    const { ctx } = exported(100_000);
    const restarted = new Harness();
    restarted.handle({ kind: "import-context", context: roundTrip(ctx), resume: true, holdRefreshMs: 3000 }, 0);
    const dropped = restarted.handle({ kind: "resume-checked", mac: MN1, supersededBy: "an-b" }, 500);
    expect(requestsIn(dropped)).toEqual([]);
    expect(eventsOf(dropped, "resume-superseded")).toEqual([{ type: "resume-superseded", mac: MN1, by: "an-b" }]);
    expect(eventsOf(dropped, "released")).toEqual([{ type: "released", mac: MN1, reason: "superseded" }]);
    expect(ofKind(dropped, "unbind")).toHaveLength(1);
    expect(restarted.engine.session(MN1)).toBeUndefined();
    expect(restarted.engine.counters.resumesSuperseded).toBe(1);
    expect(requestsIn(restarted.advanceTo(10_000))).toEqual([]);
  });

  it("with no lifetime left registers anew instead", () => {
    const { ctx } = exported(100_000);
    const restarted = new Harness();
    const actions = restarted.handle({ kind: "import-context", context: { ...ctx, remainingLifetimeMs: 0 }, resume: true }, 0);
    expect(ofKind(actions, "bind")).toEqual([]);
    expect(restarted.engine.sessionState(MN1)).toBe("registering");
  });
});

describe("validateContext", () => {
  const good = exported().ctx;
  const json = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;

  it.each<[string, unknown]>([
    ["version", 2],
    ["mac", "02:11:22:33:44"],
    ["mac", "02:11:22:33:44:GG"],
    ["nai", ""],
    ["nai", "x".repeat(256)],
    ["homeAgent", -1],
    ["homeAgent", 2 ** 32],
    ["careOf", { address: 1 }],
    ["careOf", { address: 1, greKey: 1.5 }],
    ["identification", "12a"],
    ["identification", (2n ** 64n).toString()],
    ["identification", 5],
    ["clockOffsetMs", "0"],
    ["haLinkLayer", "02:00:5e:00:53"],
    ["addresses", "fe80::1"],
    ["addresses", [1]],
    ["remainingLifetimeMs", -1],
    ["remainingLifetimeMs", null],
    ["homeAddress", 1.5],
    ["heldFrames", ["abc"]],
    ["heldFrames", ["zz"]],
  ])("names %s when it is %j", (field, value) => {
    const v = validateContext({ ...json, [field]: value });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.error.field).toBe(field);
  });

  it("rejects a non-object", () => {
    for (const v of [null, [], "ctx", 5]) expect(validateContext(v)).toMatchObject({ ok: false, error: { field: "" } });
  });

  it("accepts the exported record and a null LLA", () => {
    expect(validateContext(json).ok).toBe(true);
    expect(validateContext({ ...json, haLinkLayer: null }).ok).toBe(true);
  });
});
