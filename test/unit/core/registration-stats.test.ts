// Issue 10: registrations by result code (authentic replies only, plus timeouts)
// and the round trip per home agent, as the engine publishes them.
import { describe, expect, it } from "vitest";
import { ReplyCode } from "../../../src/wire/mip-codes.ts";
import { dadNeighborSolicitation, mac } from "../../support/frames.ts";
import { answer } from "../../support/home-agent-messages.ts";
import { CODEC, Harness, KEY, KEY2, makeConfig, MN1, MN2, parsedRequest } from "./harness.ts";

const HA_TEXT = "192.0.2.1";
const HA2_TEXT = "198.51.100.1";

function rtt(h: Harness, ha: string) {
  return h.engine.registrationTelemetry().rttMs[ha];
}

describe("registrations by code", () => {
  it("counts an accepted reply as 0 and its round trip: 7 ms lands in the 10 ms bucket, not the 5 ms one", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 1000);
    h.fromHa(answer(h.lastRequest(), KEY, CODEC), 1007);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    const t = h.engine.registrationTelemetry();
    expect(t.byCode).toEqual({ "0": 1 });
    expect(t.rttMs[HA_TEXT]).toMatchObject({ count: 1, sum: 7 });
    expect(t.rttMs[HA_TEXT]!.le).toMatchObject({ "5": 0, "10": 1, "5000": 1, "+Inf": 1 });
    expect(Object.keys(t.rttMs)).toEqual([HA_TEXT]);
  });

  it("counts denials by their code: 129, then 130 and 131 for other MNs", () => {
    const h = new Harness(makeConfig({ provisioned: new Map([[MN2, "bob@example.net"]]) }));
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.answerLast({ code: ReplyCode.AdministrativelyProhibited });
    expect(h.engine.sessionState(MN1)).toBe("failed");
    h.frame(dadNeighborSolicitation(mac(MN2)), 10);
    h.answerLast({ code: ReplyCode.InsufficientResources });
    expect(h.engine.registrationTelemetry().byCode).toEqual({ "129": 1, "130": 1 });
    expect(rtt(h, HA_TEXT)!.count).toBe(2);
    expect(h.engine.counters.repliesDenied).toBe(2);
  });

  it("counts a 133 and the accepted reply to the resynchronised request; the paced resend is no timeout", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.answerLast({ code: ReplyCode.IdentificationMismatch, haWallMs: 1_750_000_100_000 });
    expect(h.engine.counters.identificationResyncs).toBe(1);
    // The resend waits for the 1 s floor on the retransmit timer.
    h.fireNext();
    expect(h.now).toBe(1000);
    h.fromHa(answer(h.lastRequest(), KEY, CODEC), 1020);
    expect(h.engine.sessionState(MN1)).toBe("bound");
    expect(h.engine.registrationTelemetry().byCode).toEqual({ "0": 1, "133": 1 });
    expect(rtt(h, HA_TEXT)).toMatchObject({ count: 2, sum: 20 });
  });

  it("counts each request whose retransmit timer ran out unanswered as a timeout", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    while (h.engine.sessionState(MN1) === "registering") h.fireNext();
    expect(h.engine.sessionState(MN1)).toBe("failed");
    expect(h.engine.counters.requestsSent).toBe(5);
    expect(h.engine.registrationTelemetry()).toEqual({ byCode: { timeout: 5 }, rttMs: {} });
  });

  it("measures a retransmitted request from the transmission the reply answers (the newest)", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    const first = h.lastRequest();
    h.fireNext(); // 1000: the retransmission, with a new identification
    expect(h.now).toBe(1000);
    expect(parsedRequest(h.lastRequest()).message.identification).not.toBe(parsedRequest(first).message.identification);
    // A late reply to the first transmission matches nothing and is not counted.
    h.fromHa(answer(first, KEY, CODEC), 1001);
    expect(h.engine.counters.repliesUnmatched).toBe(1);
    h.fromHa(answer(h.lastRequest(), KEY, CODEC), 1003);
    expect(h.engine.registrationTelemetry().byCode).toEqual({ "0": 1, timeout: 1 });
    expect(rtt(h, HA_TEXT)).toMatchObject({ count: 1, sum: 3 });
    expect(rtt(h, HA_TEXT)!.le).toMatchObject({ "2": 0, "5": 1 });
  });

  it("does not count replies that fail authentication or come from another address", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.fromHa(answer(h.lastRequest(), KEY, CODEC, { auth: "wrong-key" }), 5);
    h.fromHa(answer(h.lastRequest(), KEY, CODEC), 6, 0xc0000242);
    expect(h.engine.counters.repliesForged).toBe(2);
    expect(h.engine.registrationTelemetry()).toEqual({ byCode: {}, rttMs: {} });
    // The genuine one still measures from the request.
    h.fromHa(answer(h.lastRequest(), KEY, CODEC), 40);
    expect(h.engine.registrationTelemetry().byCode).toEqual({ "0": 1 });
    expect(rtt(h, HA_TEXT)!.sum).toBe(40);
  });

  it("keeps one histogram per configured home agent", () => {
    const h = new Harness(makeConfig({ provisioned: new Map([[MN2, "carol@other.org"]]) }));
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.fromHa(answer(h.lastRequest(), KEY, CODEC), 3);
    h.frame(dadNeighborSolicitation(mac(MN2)), 10);
    h.fromHa(answer(h.lastRequest(), KEY2, CODEC), 310, 0xc6336401);
    expect(h.engine.sessionState(MN2)).toBe("bound");
    const t = h.engine.registrationTelemetry().rttMs;
    expect(Object.keys(t).sort()).toEqual([HA_TEXT, HA2_TEXT]);
    expect(t[HA_TEXT]).toMatchObject({ count: 1, sum: 3 });
    expect(t[HA2_TEXT]).toMatchObject({ count: 1, sum: 300 });
    expect(t[HA2_TEXT]!.le).toMatchObject({ "200": 0, "500": 1 });
  });

  it("folds a home agent the config no longer lists into \"other\"", () => {
    const h = new Harness(makeConfig({ provisioned: new Map([[MN2, "carol@other.org"]]) }));
    h.frame(dadNeighborSolicitation(mac(MN2)), 0);
    // The realm went away; the session keeps its HA until it ends.
    h.engine.reconfigure(makeConfig({ realms: [makeConfig().realms[0]!], provisioned: new Map([[MN2, "carol@other.org"]]) }));
    h.fromHa(answer(h.lastRequest(), KEY2, CODEC), 4, 0xc6336401);
    expect(h.engine.registrationTelemetry().rttMs).toEqual({ other: expect.objectContaining({ count: 1, sum: 4 }) });
  });

  it("a session that ends with its request in flight is no timeout", () => {
    const h = new Harness();
    h.frame(dadNeighborSolicitation(mac(MN1)), 0);
    h.handle({ kind: "hand-over", mac: MN1 }, 200);
    h.advanceTo(60_000);
    expect(h.engine.registrationTelemetry()).toEqual({ byCode: {}, rttMs: {} });
  });
});
