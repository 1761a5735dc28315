// Issue 10: the signed release rpc through a real mosquitto. The new AN's request
// is signed with its fleet key and names its CoA for the MN; the old AN serves only
// a request that verifies (known signer, signature, `by` = signer, fresh, not
// replayed, answer to the asker's own rpc topic) and answers signed; everything else
// is counted by reason, logged at warn without secrets (once per reason per
// log.oncePerCauseS, then a summary) and not answered. The new AN takes only an
// answer signed by the AN it asked, for the request it sent. Signature checks are
// bounded: the cheap claims first, then a token bucket (rate-limited).
import { describe, expect, it, onTestFinished } from "vitest";
import { privateKeyFromSeed, signEnvelope } from "../../../src/app/context-record.ts";
import { encodeReleaseAnswer, encodeReleaseRequest } from "../../../src/app/release-rpc.ts";
import { Broker, mosquittoUnavailableReason } from "../../support/mosquitto.ts";
import { until, Watcher } from "../../support/mqtt-watch.ts";
import { publicKeyHex, seed, startAgent } from "./fleet-host.ts";

const skip = mosquittoUnavailableReason();
const P = "netmip/v1";
const key = (n: number) => privateKeyFromSeed(seed(n));
const fleetKeys = { "an-1": publicKeyHex(1), "an-2": publicKeyHex(2), "an-3": publicKeyHex(3) };
const MN = "02:11:22:33:44:01";
const MN2 = "02:11:22:33:44:02";
const NEW_COA = 0xc6120014; // 198.18.0.20
const rpc = (id: string) => `${P}/an/${id}/rpc`;
const agent = (broker: Broker, id: string, n: number) => startAgent(broker.url, P, id, n, fleetKeys, (stop) => onTestFinished(stop));
/** A broker for one test, and an observer/attacker client on the given topics. */
async function setUp(topics: string[]): Promise<{ broker: Broker; w: Watcher }> {
  const broker = await Broker.start();
  onTestFinished(() => broker.cleanup());
  const w = await Watcher.connect(broker.url, topics);
  onTestFinished(() => w.close());
  return { broker, w };
}

describe.skipIf(skip !== undefined)(`signed release rpc over mosquitto${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("serves the signed request and answers signed; refuses forged, wrong-signer, unknown-signer, replayed, expired and misdirected requests, counted and unanswered", async () => {
    const { broker, w } = await setUp([rpc("an-1"), rpc("an-2")]);
    const { a: oldAn, host: oldHost } = await agent(broker, "an-1", 1);
    const { a: newAn } = await agent(broker, "an-2", 2);
    await new Promise((r) => setTimeout(r, 100));

    // The good one: served, the target passed on, the answer signed by an-1.
    expect(await newAn.requestRelease("an-1", MN, NEW_COA)).toBe(true);
    expect(oldHost.released).toEqual([MN]);
    expect(oldHost.forwardTargets).toEqual([NEW_COA]);
    expect(oldAn.stats().releasesServed).toBe(1);
    // The observer's copies may trail the agents' (another connection): wait for both.
    await w.next(rpc("an-1"));
    await w.next(rpc("an-2"));
    const request = w.seen.find((s) => s.topic === rpc("an-1"))!;
    const requestBody = JSON.parse((JSON.parse(request.text) as { body: string }).body) as Record<string, unknown>;
    expect(requestBody).toMatchObject({ op: "release", signer: "an-2", by: "an-2", mac: MN, target: "198.18.0.20" });
    expect(typeof requestBody.seq).toBe("number");
    expect((requestBody.expiresAtMs as number) - (requestBody.issuedAtMs as number)).toBe(10_000);
    const answer = w.seen.find((s) => s.topic === rpc("an-2"))!;
    const answerOuter = JSON.parse(answer.text) as { body: string; sig: string };
    expect(JSON.parse(answerOuter.body)).toMatchObject({ op: "released", signer: "an-1", mac: MN, released: true, requestSeq: requestBody.seq });
    expect(answerOuter.sig).toMatch(/^[A-Za-z0-9+/]{86}==$/);

    const answersBefore = w.seen.filter((s) => s.topic === rpc("an-2")).length;
    const send = (payload: string, responseTopic = rpc("an-2")) => w.publish(rpc("an-1"), payload, false, { responseTopic, correlationData: Buffer.from("attacker-1") });
    const now = Date.now();
    const fresh = (seq: number, to = "an-1") => ({ by: "an-2", to, mac: MN, target: NEW_COA, seq });
    // Replayed: the captured request again, byte for byte.
    await send(request.text);
    // Forged: the captured body with another target and a new seq (else it is a replay, refused before the signature check), the signature kept.
    const outer = JSON.parse(request.text) as { body: string; sig: string };
    const forgedBody = outer.body.replace("198.18.0.20", "198.18.0.66").replace(`"seq":${String(requestBody.seq)}`, `"seq":${String((requestBody.seq as number) + 1000)}`);
    expect(forgedBody).not.toBe(outer.body);
    await send(JSON.stringify({ body: forgedBody, sig: outer.sig }));
    // A fleet member (an-3, say compromised) speaking as an-2: signer an-2 with an-3's key (forged), or its own signer claiming by an-2.
    await send(encodeReleaseRequest(fresh(now + 10), now, key(3)));
    await send(signEnvelope({ v: 1, op: "release", signer: "an-3", by: "an-2", mac: MN, target: "198.18.0.20", seq: now + 11, issuedAtMs: now, expiresAtMs: now + 10_000 }, key(3)));
    // Not in fleetKeys.
    await send(signEnvelope({ v: 1, op: "release", signer: "an-9", by: "an-9", mac: MN, target: "198.18.0.20", seq: now + 12, issuedAtMs: now, expiresAtMs: now + 10_000 }, key(9)));
    // Expired: properly signed by an-2, 20 s ago.
    await send(encodeReleaseRequest(fresh(now + 13), now - 20_000, key(2)));
    // Properly signed and fresh, but the answer aimed at another AN's topic.
    await send(encodeReleaseRequest(fresh(now + 14), now, key(2)), rpc("an-3"));
    // Properly signed and fresh, but for an-3 (captured on an-3's topic, which every AN may write, and replayed to an-1).
    await send(encodeReleaseRequest(fresh(now + 15, "an-3"), now, key(2)));
    // Malformed.
    await send("{not json");
    await until(() => Object.values(oldAn.stats().releasesRefused).reduce((a, b) => a + b, 0) === 9, "nine refusals");
    expect(oldAn.stats().releasesRefused).toEqual({ malformed: 1, "unknown-signer": 1, forged: 2, "wrong-signer": 1, expired: 1, replayed: 1, "wrong-response-topic": 1, misdirected: 1, "bad-target": 0, "rate-limited": 0 });
    expect(oldHost.released).toEqual([MN]);
    expect(oldAn.stats().releasesServed).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(w.seen.filter((s) => s.topic === rpc("an-2")).length).toBe(answersBefore); // none answered
    // One line per reason (the second forgery is counted, not logged: once per reason per window).
    const refusals = oldHost.logText
      .split("\n")
      .filter((l) => l.includes("release request refused"))
      .map((l) => JSON.parse(l) as { level: string; reason: string });
    expect(refusals.map((l) => l.reason).sort()).toEqual(["expired", "forged", "malformed", "misdirected", "replayed", "unknown-signer", "wrong-response-topic", "wrong-signer"]);
    expect(refusals.map((l) => l.level)).toEqual(Array(8).fill("warn"));
    for (const n of [1, 2, 3]) expect(oldHost.logText).not.toContain(seed(n).toString("hex"));

    // A fresh signed request after all that is served (the window only holds what was accepted).
    expect(await newAn.requestRelease("an-1", MN, NEW_COA)).toBe(true);
    expect(oldAn.stats().releasesServed).toBe(2);
  });

  it("a flood of junk costs no signature check when a cheap check refuses it, at most the bucket's when none does; counted exactly, logged once per reason then summarised", async () => {
    const { broker, w } = await setUp([]);
    // 1 check a second, burst 4; a 1 s log window so the summary comes soon.
    const { a: oldAn, host: oldHost } = await startAgent(broker.url, P, "an-1", 1, fleetKeys, (stop) => onTestFinished(stop), { fleet: { rpcVerifyPerSecond: 1 }, doc: { log: { oncePerCauseS: 1 } } });
    await new Promise((r) => setTimeout(r, 100));
    const now = Date.now();
    const N = 40;
    const started = performance.now();
    for (let i = 0; i < N; i++) {
      const fresh = { by: "an-2", to: "an-1", mac: MN, target: NEW_COA, seq: now + i };
      // Passes every cheap check, signed with the wrong key: costs a verification if admitted.
      await w.publish(rpc("an-1"), encodeReleaseRequest(fresh, now, key(3)), false, { responseTopic: rpc("an-2") });
      // Refused before any verification: unknown signer, and misdirected.
      await w.publish(rpc("an-1"), signEnvelope({ v: 1, op: "release", signer: "an-9", by: "an-9", to: "an-1", mac: MN, target: "198.18.0.20", seq: now + i, issuedAtMs: now, expiresAtMs: now + 10_000 }, key(9)), false);
      await w.publish(rpc("an-1"), encodeReleaseRequest({ ...fresh, to: "an-3" }, now, key(2)), false);
    }
    const refused = () => oldAn.stats().releasesRefused;
    await until(() => Object.values(refused()).reduce((a, b) => a + b, 0) === 3 * N, `${3 * N} refusals`);
    const elapsedS = (performance.now() - started) / 1000;
    const r = refused();
    // Exact counts: every message is counted once, under one reason.
    expect(r["unknown-signer"]).toBe(N);
    expect(r.misdirected).toBe(N);
    expect(r.forged + r["rate-limited"]).toBe(N);
    // Verifications (the forged ones) at most the burst plus the refill over the run.
    expect(r.forged).toBeGreaterThanOrEqual(4);
    expect(r.forged).toBeLessThanOrEqual(4 + Math.ceil(elapsedS) + 1);
    expect(r["rate-limited"]).toBeGreaterThan(0);
    // The log: per reason, the lines (first, later windows, summaries) account for every refusal.
    type Line = { msg: string; reason: string; total: number; suppressedSinceLast: number; summary?: boolean };
    const lines = (): Line[] =>
      oldHost.logText
        .split("\n")
        .filter((l) => l.includes("release request refused"))
        .map((l) => JSON.parse(l) as Line);
    // A line logged for a refusal stands for it and those suppressed before it; a summary only for those suppressed.
    const accounted = (reason: string) => lines().filter((l) => l.reason === reason).reduce((a, l) => a + (l.summary ? 0 : 1) + l.suppressedSinceLast, 0);
    await until(() => ["unknown-signer", "misdirected", "forged", "rate-limited"].every((x) => accounted(x) === r[x as keyof typeof r]), "the summaries account for every refusal");
    // At most one line per reason per 1 s window (plus the first): not one per message.
    const windows = Math.ceil((performance.now() - started) / 1000) + 1;
    expect(lines().length).toBeLessThanOrEqual(4 * windows);
    expect(lines().length).toBeLessThan(3 * N);
    expect(lines().some((l) => l.summary === true && l.suppressedSinceLast > 0)).toBe(true);
  });

  it("the new AN ignores answers not signed by the AN it asked or for another request, and takes the right one", async () => {
    // an-3 is played by the test (its key), to craft answers.
    const { broker, w } = await setUp([rpc("an-3")]);
    const { a: newAn } = await agent(broker, "an-2", 2);
    await new Promise((r) => setTimeout(r, 100));
    const pending = newAn.requestRelease("an-3", MN2, NEW_COA, 5000);
    const req = await w.next<{ body: string }>(rpc("an-3"));
    const seq = (JSON.parse(req.body) as { seq: number }).seq;
    const correlationData = w.seen.find((s) => s.topic === rpc("an-3"))!.packet.properties!.correlationData!;
    const answer = (payload: string) => w.publish(rpc("an-2"), payload, false, { correlationData: Buffer.from(correlationData) });
    const now = Date.now();
    await answer(encodeReleaseAnswer({ signer: "an-1", mac: MN2, released: true, requestSeq: seq }, now, key(1))); // not whom it asked
    await answer(encodeReleaseAnswer({ signer: "an-3", mac: MN2, released: true, requestSeq: seq - 1 }, now, key(3))); // another request
    await answer(encodeReleaseAnswer({ signer: "an-3", mac: MN2, released: true, requestSeq: seq }, now, key(1))); // forged
    await until(() => Object.values(newAn.stats().releaseAnswersRejected).reduce((a, b) => a + b, 0) === 3, "three answers rejected");
    await answer(encodeReleaseAnswer({ signer: "an-3", mac: MN2, released: true, requestSeq: seq }, now, key(3)));
    expect(await pending).toBe(true);
    expect(newAn.stats().releaseAnswersRejected).toMatchObject({ "wrong-signer": 1, mismatch: 1, forged: 1 });
  });

  it("a flood of forged requests that pass the cheap checks cannot starve the answer to our own request (answers have their own signature-check bucket)", async () => {
    // an-3 is played by the test: it floods an-2's rpc topic and answers an-2's request.
    const { broker, w } = await setUp([rpc("an-3")]);
    // 1 check a second, burst 4: the flood empties the bucket at once.
    const { a: newAn } = await startAgent(broker.url, P, "an-2", 2, fleetKeys, (stop) => onTestFinished(stop), { fleet: { rpcVerifyPerSecond: 1 } });
    await new Promise((r) => setTimeout(r, 100));
    const now = Date.now();
    let n = 0;
    // Fresh, to an-2, signer and by an-3, answer to an-3's own topic: only the signature refuses them (wrong key).
    const flood = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) await w.publish(rpc("an-2"), encodeReleaseRequest({ by: "an-3", to: "an-2", mac: MN, target: NEW_COA, seq: now + ++n }, now, key(1)), false, { responseTopic: rpc("an-3") });
    };
    await flood(8);
    await until(() => newAn.stats().releasesRefused["rate-limited"] > 0, "the bucket spent");
    const pending = newAn.requestRelease("an-3", MN2, NEW_COA, 3000, { attempts: 1 });
    const req = await w.next<{ body: string }>(rpc("an-3"));
    const seq = (JSON.parse(req.body) as { seq: number }).seq;
    const correlationData = w.seen.find((s) => s.topic === rpc("an-3"))!.packet.properties!.correlationData!;
    // More of the flood right ahead of the genuine answer (same connection, in order).
    await flood(6);
    await w.publish(rpc("an-2"), encodeReleaseAnswer({ signer: "an-3", mac: MN2, released: true, requestSeq: seq }, Date.now(), key(3)), false, { correlationData: Buffer.from(correlationData) });
    expect(await pending).toBe(true);
    expect(newAn.stats().releaseAnswersRejected["rate-limited"]).toBe(0);
    const r = newAn.stats().releasesRefused;
    expect(r.forged + r["rate-limited"]).toBe(14);
  });

  // Orders we had not chosen (issue 10): the answer slow or lost, the broker down between the fetch and the release.
  it("a slow answer (after the request gave up) is counted late and dropped quietly, not refused as a malformed request", async () => {
    const { broker, w } = await setUp([rpc("an-3")]);
    const { a: newAn, host } = await agent(broker, "an-2", 2);
    await new Promise((r) => setTimeout(r, 100));
    const gaveUp = newAn.requestRelease("an-3", MN2, NEW_COA, 200, { attempts: 1 });
    const req = await w.next<{ body: string }>(rpc("an-3"));
    const seq = (JSON.parse(req.body) as { seq: number }).seq;
    const correlationData = w.seen.find((s) => s.topic === rpc("an-3"))!.packet.properties!.correlationData!;
    expect(await gaveUp).toBeUndefined();
    await w.publish(rpc("an-2"), encodeReleaseAnswer({ signer: "an-3", mac: MN2, released: true, requestSeq: seq }, Date.now(), key(3)), false, { correlationData: Buffer.from(correlationData) });
    // Either way it is counted somewhere: as late (right), or as a refused malformed request (before the fix).
    await until(() => newAn.stats().releaseAnswersLate === 1 || newAn.stats().releasesRefused.malformed === 1, "the late answer handled");
    expect(newAn.stats().releasesRefused.malformed).toBe(0);
    expect(newAn.stats().releaseAnswersLate).toBe(1);
    expect(newAn.stats()).toMatchObject({ releasesRequested: 1, releasesRetried: 0, releasesUnanswered: 1 });
    expect(host.logText).not.toContain("release request refused");
  });

  it("no answer to the first request (lost): asked again with a new seq, and the answer to the retry is taken", async () => {
    const { broker, w } = await setUp([rpc("an-3")]);
    const { a: newAn } = await agent(broker, "an-2", 2);
    await new Promise((r) => setTimeout(r, 100));
    const pending = newAn.requestRelease("an-3", MN2, NEW_COA, 300);
    const first = await w.next<{ body: string }>(rpc("an-3"));
    // The test (an-3) does not answer the first; the second comes after the timeout.
    const second = await w.next<{ body: string }>(rpc("an-3"), (m) => m.body !== first.body, 5000);
    const [s1, s2] = [first, second].map((m) => (JSON.parse(m.body) as { seq: number }).seq);
    expect(s2).toBeGreaterThan(s1!);
    const msgs = w.seen.filter((s) => s.topic === rpc("an-3"));
    const correlationData = msgs[msgs.length - 1]!.packet.properties!.correlationData!;
    await w.publish(rpc("an-2"), encodeReleaseAnswer({ signer: "an-3", mac: MN2, released: true, requestSeq: s2! }, Date.now(), key(3)), false, { correlationData: Buffer.from(correlationData) });
    expect(await pending).toBe(true);
    expect(newAn.stats()).toMatchObject({ releasesRequested: 1, releasesRetried: 1, releasesUnanswered: 0 });
  });

  it("the answer to the first request arriving while the retry waits is the release's answer (not late): taken, no further request", async () => {
    const { broker, w } = await setUp([rpc("an-3")]);
    const { a: newAn } = await agent(broker, "an-2", 2);
    await new Promise((r) => setTimeout(r, 100));
    const pending = newAn.requestRelease("an-3", MN2, NEW_COA, 300);
    const first = await w.next<{ body: string }>(rpc("an-3"));
    await w.next<{ body: string }>(rpc("an-3"), (m) => m.body !== first.body, 5000);
    // The old AN served the first one; its answer was slow and comes now, during the second's wait.
    const s1 = (JSON.parse(first.body) as { seq: number }).seq;
    const correlationData = w.seen.filter((s) => s.topic === rpc("an-3"))[0]!.packet.properties!.correlationData!;
    await w.publish(rpc("an-2"), encodeReleaseAnswer({ signer: "an-3", mac: MN2, released: true, requestSeq: s1 }, Date.now(), key(3)), false, { correlationData: Buffer.from(correlationData) });
    expect(await pending).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(w.seen.filter((s) => s.topic === rpc("an-3"))).toHaveLength(2);
    expect(newAn.stats()).toMatchObject({ releasesRequested: 1, releasesRetried: 1, releasesUnanswered: 0, releaseAnswersLate: 0 });
  });

  it("the broker down between the fetch and the release: the request goes when it is back, and the old AN lets the MN go", async () => {
    const broker = await Broker.start();
    onTestFinished(() => broker.cleanup());
    const { a: oldAn, host: oldHost } = await agent(broker, "an-1", 1);
    const { a: newAn } = await agent(broker, "an-2", 2);
    await broker.stop();
    await until(() => !newAn.connected && !oldAn.connected, "both see the broker gone");
    const pending = newAn.requestRelease("an-1", MN, NEW_COA);
    await new Promise((r) => setTimeout(r, 300));
    await broker.start();
    expect(await pending).toBe(true);
    expect(oldHost.released).toEqual([MN]);
    expect(oldHost.forwardTargets).toEqual([NEW_COA]);
    expect(oldAn.stats().releasesServed).toBe(1);
  });

  it("A -> B -> A before B wrote its record: A finds its own record, and its release goes to B (who has the MN), not to itself", async () => {
    const { broker } = await setUp([]);
    const { a: anA, host: hostA } = await agent(broker, "an-1", 1);
    const { a: anB, host: hostB } = await agent(broker, "an-2", 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(await anB.requestRelease("an-1", MN, NEW_COA, undefined, { from: { address: 0xc612000a, greKey: 0x1001 } })).toBe(true);
    expect(hostA.released).toEqual([MN]);
    expect(hostA.froms).toEqual([{ address: 0xc612000a, greKey: 0x1001 }]); // the session B took over, signed in
    // Back at A: the record A fetched is A's own (signer an-1).
    // The record A found names A's old CoA, not B's: no `from` goes to B.
    expect(await anA.requestRelease("an-1", MN, 0xc6120015, undefined, { from: { address: 0xc612000a, greKey: null } })).toBe(true);
    expect(hostB.released).toEqual([MN]);
    expect(hostB.forwardTargets).toEqual([0xc6120015]);
    expect(hostB.froms).toEqual([undefined]);
    // Our own record for a MAC we never released: nobody to ask.
    expect(await anA.requestRelease("an-1", MN2, 0xc6120015)).toBeUndefined();
    expect(hostB.released).toEqual([MN]);
  });

  it("a release no longer wanted (our session ended) or superseded by a newer one for the same MAC stops asking", async () => {
    const { broker, w } = await setUp([rpc("an-3")]);
    const { a: newAn } = await agent(broker, "an-2", 2);
    await new Promise((r) => setTimeout(r, 100));
    let wanted = true;
    const old = newAn.requestRelease("an-3", MN2, NEW_COA, 200, { wanted: () => wanted });
    await w.next(rpc("an-3"));
    wanted = false;
    expect(await old).toBeUndefined();
    const superseded = newAn.requestRelease("an-3", MN, NEW_COA, 200);
    await w.next(rpc("an-3"), (m: { body: string }) => m.body.includes(MN));
    const newer = newAn.requestRelease("an-3", MN, NEW_COA + 1, 200, { attempts: 1 });
    expect(await superseded).toBeUndefined();
    expect(await newer).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    // One request each for MN2 (not wanted after it) and the superseded MN, one for the newer.
    expect(w.seen.filter((s) => s.topic === rpc("an-3"))).toHaveLength(3);
    expect(newAn.stats()).toMatchObject({ releasesRequested: 3, releasesRetried: 0, releasesUnanswered: 3 });
  });
});
