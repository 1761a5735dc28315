// Issue 10: the signed release request and answer, checked without a broker (the
// broker path: test/integration/fleet/release-rpc.test.ts).
import { describe, expect, it } from "vitest";
import { privateKeyFromSeed, publicKeyFromRaw, rawPublicKey, signEnvelope } from "../../../src/app/context-record.ts";
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
});
