// Issue 10: the signed release request and answer, checked without a broker (the
// broker path: test/integration/fleet/release-rpc.test.ts).
import { describe, expect, it } from "vitest";
import { privateKeyFromSeed, publicKeyFromRaw, rawPublicKey, signEnvelope } from "../../../src/app/context-record.ts";
import { TokenBucket } from "../../../src/app/token-bucket.ts";
import { encodeReleaseAnswer, encodeReleaseRequest, RELEASE_TTL_MS, verifyReleaseAnswer, verifyReleaseRequest } from "../../../src/app/release-rpc.ts";

const key = (n: number) => privateKeyFromSeed(Buffer.alloc(32, n));
const keys = new Map([1, 2].map((n) => [`an-${n}`, publicKeyFromRaw(rawPublicKey(key(n)))]));
const NOW = 1_750_000_000_000;
const MAC = "02:11:22:33:44:01";
const request = (seq = 7, now = NOW, o: { to?: string; target?: number } = {}) =>
  Buffer.from(encodeReleaseRequest({ by: "an-2", to: o.to ?? "an-1", mac: MAC, target: o.target ?? 0xc6120014, seq }, now, key(2)));
const check = (bytes: Buffer, last?: number, now = NOW) => verifyReleaseRequest(bytes, { keys, nowWallMs: now, self: "an-1", lastSeq: () => last });

describe("release request", () => {
  it("a good one verifies with its fields", () => {
    expect(check(request())).toEqual({ ok: true, request: { by: "an-2", to: "an-1", mac: MAC, target: 0xc6120014, seq: 7 } });
  });

  it("refuses a request signed for another AN (captured on its topic and replayed to us) and a target that is not unicast", () => {
    expect(check(request(7, NOW, { to: "an-3" }))).toMatchObject({ ok: false, reason: "misdirected" });
    for (const target of [0, 0x7f000001, 0xe0000001, 0xffffffff]) expect(check(request(7, NOW, { target }))).toMatchObject({ ok: false, reason: "bad-target" });
  });

  it("refuses a replay (seq not above the last accepted), an expired one, one from the future, one with a longer life", () => {
    expect(check(request(7), 7)).toMatchObject({ ok: false, reason: "replayed" });
    expect(check(request(7), undefined, NOW + RELEASE_TTL_MS)).toMatchObject({ ok: false, reason: "expired" });
    expect(check(request(7, NOW + RELEASE_TTL_MS + 1))).toMatchObject({ ok: false, reason: "expired" });
    const long = Buffer.from(signEnvelope({ v: 1, op: "release", signer: "an-2", by: "an-2", to: "an-1", mac: MAC, target: "198.18.0.20", seq: 8, issuedAtMs: NOW, expiresAtMs: NOW + RELEASE_TTL_MS + 1 }, key(2)));
    expect(check(long)).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("refuses a context record's envelope (no op), a bad target, a bad MAC", () => {
    for (const body of [
      { v: 1, signer: "an-2", seq: 1 },
      { v: 1, op: "release", signer: "an-2", by: "an-2", mac: MAC, target: "not-an-address", seq: 1, issuedAtMs: NOW, expiresAtMs: NOW + 1000 },
      { v: 1, op: "release", signer: "an-2", by: "an-2", mac: "02:11:22:33:44", target: "198.18.0.20", seq: 1, issuedAtMs: NOW, expiresAtMs: NOW + 1000 },
    ])
      expect(check(Buffer.from(signEnvelope(body, key(2))))).toMatchObject({ ok: false, reason: "malformed" });
  });
});

describe("release request: signature checks only for what passes every cheap check, and only when admitted", () => {
  const gated = (bytes: Buffer, admit: boolean, o: { last?: number; topicOk?: boolean } = {}) => {
    let asked = 0;
    const v = verifyReleaseRequest(bytes, {
      keys,
      nowWallMs: NOW,
      self: "an-1",
      lastSeq: () => o.last,
      answerTopicOk: () => o.topicOk ?? true,
      admitVerification: () => {
        asked++;
        return admit;
      },
    });
    return { v, asked };
  };
  const signed = (body: Record<string, unknown>, k = 2) => Buffer.from(signEnvelope(body, key(k)));
  const good = { v: 1, op: "release", signer: "an-2", by: "an-2", to: "an-1", mac: MAC, target: "198.18.0.20", seq: 7, issuedAtMs: NOW, expiresAtMs: NOW + 1000 };

  it("refuses junk before asking for a verification: malformed, unknown signer, wrong signer, misdirected, bad target, expired, replayed, wrong answer topic", () => {
    const cases: [Buffer, string, { last?: number; topicOk?: boolean }?][] = [
      [Buffer.from("{not json"), "malformed"],
      [signed({ ...good, signer: "an-9", by: "an-9" }, 9), "unknown-signer"],
      [signed({ ...good, by: "an-1" }), "wrong-signer"],
      [signed({ ...good, to: "an-3" }), "misdirected"],
      [signed({ ...good, target: "127.0.0.1" }), "bad-target"],
      [signed({ ...good, issuedAtMs: NOW - 5000, expiresAtMs: NOW - 1 }), "expired"],
      [signed(good), "replayed", { last: 7 }],
      [signed(good), "wrong-response-topic", { topicOk: false }],
    ];
    for (const [bytes, reason, o] of cases) {
      const { v, asked } = gated(bytes, true, o);
      expect(v).toMatchObject({ ok: false, reason });
      expect(asked).toBe(0);
    }
  });

  it("asks once for what passes them: forged when the signature fails, rate-limited (unverified) when refused, even a genuine one", () => {
    expect(gated(signed(good, 1), true)).toMatchObject({ v: { ok: false, reason: "forged" }, asked: 1 });
    expect(gated(signed(good), true)).toMatchObject({ v: { ok: true }, asked: 1 });
    expect(gated(signed(good), false)).toMatchObject({ v: { ok: false, reason: "rate-limited" }, asked: 1 });
    expect(gated(signed(good, 1), false)).toMatchObject({ v: { ok: false, reason: "rate-limited" }, asked: 1 });
  });

  it("with the fleet agent's bucket (TokenBucket, burst 4, 1/s): a flood of forgeries gets 4 checks, then one a second", () => {
    const bucket = new TokenBucket(1, 4);
    let t = 0;
    let forged = 0;
    let limited = 0;
    for (let i = 0; i < 100; i++) {
      if (i === 50) t = 1000; // one second later: one more token
      const v = verifyReleaseRequest(signed({ ...good, seq: i }, 1), { keys, nowWallMs: NOW, self: "an-1", lastSeq: () => undefined, admitVerification: () => bucket.take(t) });
      if (!v.ok && v.reason === "forged") forged++;
      if (!v.ok && v.reason === "rate-limited") limited++;
    }
    expect({ forged, limited }).toEqual({ forged: 5, limited: 95 });
  });
});

describe("release request: the session taken over (from)", () => {
  it("names the record's CoA and GRE key, verified with the rest; absent, nothing is assumed", () => {
    const withFrom = (from: { address: number; greKey: number | null }) => Buffer.from(encodeReleaseRequest({ by: "an-2", to: "an-1", mac: MAC, target: 0xc6120014, seq: 7, from }, NOW, key(2)));
    expect(check(withFrom({ address: 0xc612000a, greKey: null }))).toEqual({ ok: true, request: { by: "an-2", to: "an-1", mac: MAC, target: 0xc6120014, seq: 7, from: { address: 0xc612000a, greKey: null } } });
    expect(check(withFrom({ address: 0xc612000a, greKey: 0x1001 }))).toMatchObject({ ok: true, request: { from: { address: 0xc612000a, greKey: 0x1001 } } });
    expect(check(request())).toEqual({ ok: true, request: { by: "an-2", to: "an-1", mac: MAC, target: 0xc6120014, seq: 7 } });
  });

  it("refuses a bad from (not an address, a key out of range, a key without an address)", () => {
    const body = (extra: Record<string, unknown>) => ({ v: 1, op: "release", signer: "an-2", by: "an-2", to: "an-1", mac: MAC, target: "198.18.0.20", seq: 1, issuedAtMs: NOW, expiresAtMs: NOW + 1000, ...extra });
    for (const extra of [{ from: "nowhere" }, { from: "198.18.0.10", fromKey: -1 }, { from: "198.18.0.10", fromKey: 2 ** 32 }, { fromKey: 5 }])
      expect(check(Buffer.from(signEnvelope(body(extra), key(2))))).toMatchObject({ ok: false, reason: "malformed" });
  });
});

describe("release answer", () => {
  const answer = (o: { signer?: string; requestSeq?: number; k?: number; released?: boolean } = {}) =>
    Buffer.from(encodeReleaseAnswer({ signer: o.signer ?? "an-1", mac: MAC, released: o.released ?? true, requestSeq: o.requestSeq ?? 7 }, NOW, key(o.k ?? 1)));
  const take = (b: Buffer) => verifyReleaseAnswer(b, { keys, nowWallMs: NOW, signer: "an-1", mac: MAC, requestSeq: 7 });

  it("takes the asked AN's answer to this request only", () => {
    expect(take(answer())).toEqual({ ok: true, released: true });
    expect(take(answer({ released: false }))).toEqual({ ok: true, released: false });
    expect(take(answer({ signer: "an-2", k: 2 }))).toMatchObject({ ok: false, reason: "wrong-signer" });
    expect(take(answer({ requestSeq: 6 }))).toMatchObject({ ok: false, reason: "mismatch" });
    expect(take(answer({ k: 2 }))).toMatchObject({ ok: false, reason: "forged" });
    // A request is not an answer.
    expect(take(request())).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("checks the signature of an answer only when the claims match and it is admitted", () => {
    let asked = 0;
    const gate = (b: Buffer, admit: boolean) =>
      verifyReleaseAnswer(b, {
        keys,
        nowWallMs: NOW,
        signer: "an-1",
        mac: MAC,
        requestSeq: 7,
        admitVerification: () => {
          asked++;
          return admit;
        },
      });
    expect(gate(answer({ requestSeq: 6, k: 2 }), true)).toMatchObject({ ok: false, reason: "mismatch" });
    expect(gate(answer({ signer: "an-2", k: 1 }), true)).toMatchObject({ ok: false, reason: "wrong-signer" });
    expect(asked).toBe(0);
    expect(gate(answer({ k: 2 }), false)).toMatchObject({ ok: false, reason: "rate-limited" });
    expect(gate(answer({ k: 2 }), true)).toMatchObject({ ok: false, reason: "forged" });
    expect(gate(answer(), true)).toEqual({ ok: true, released: true });
    expect(asked).toBe(3);
  });
});
