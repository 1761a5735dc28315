// Signed context records (src/app/context-record.ts): what verifies, and every way
// a record is refused: forged (wrong key, tampered body, one AN speaking as another),
// unknown signer, replayed, expired, for another MAC, malformed. No key inside.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encodeContextRecord, privateKeyFromSeed, publicKeyFromRaw, rawPublicKey, SequenceWindow, verifyContextRecord } from "../../../src/app/context-record.ts";
import { MAC, sampleContext } from "../../support/contexts.ts";

const seed1 = Buffer.alloc(32, 1);
const seed2 = Buffer.alloc(32, 2);
const k1 = privateKeyFromSeed(seed1);
const k2 = privateKeyFromSeed(seed2);
const keys = new Map([
  ["an-1", publicKeyFromRaw(rawPublicKey(k1))],
  ["an-2", publicKeyFromRaw(rawPublicKey(k2))],
]);
const NOW = 1_800_000_000_000;
const none = () => undefined;

describe("context records", () => {
  it("verifies a record from a fleet key, with the lifetime left now and without held frames", () => {
    const rec = encodeContextRecord(sampleContext(), { signer: "an-1", seq: 5, nowWallMs: NOW, key: k1 });
    const v = verifyContextRecord(rec, { keys, nowWallMs: NOW + 100_000, mac: MAC, lastSeq: none });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.body.signer).toBe("an-1");
    expect(v.body.context.nai).toBe("021122334401@example.net");
    expect(v.body.context.remainingLifetimeMs).toBe(500_000);
    expect(v.body.context.heldFrames).toEqual([]);
    // Exactly the context's fields: nothing else (no key can ride along).
    expect(Object.keys(JSON.parse((JSON.parse(rec) as { body: string }).body).context).sort()).toEqual(Object.keys(sampleContext()).sort());
  });

  it("matches node:crypto's own Ed25519 keys (raw seed import is the same key)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const rec = encodeContextRecord(sampleContext(), { signer: "an-x", seq: 1, nowWallMs: NOW, key: privateKey });
    const raw = rawPublicKey(privateKey);
    expect(publicKey.export({ format: "der", type: "spki" }).subarray(-32)).toEqual(raw);
    expect(verifyContextRecord(rec, { keys: new Map([["an-x", publicKeyFromRaw(raw)]]), nowWallMs: NOW, mac: MAC, lastSeq: none }).ok).toBe(true);
  });

  it("refuses forgeries: another AN's key under an-1's name, a tampered body, an unknown signer", () => {
    const asOther = encodeContextRecord(sampleContext(), { signer: "an-1", seq: 5, nowWallMs: NOW, key: k2 });
    expect(verifyContextRecord(asOther, { keys, nowWallMs: NOW, mac: MAC, lastSeq: none })).toMatchObject({ ok: false, reason: "forged" });
    const good = JSON.parse(encodeContextRecord(sampleContext(), { signer: "an-1", seq: 5, nowWallMs: NOW, key: k1 })) as { body: string; sig: string };
    const tampered = JSON.stringify({ ...good, body: good.body.replace("167772162", "167772163") });
    expect(tampered).not.toBe(JSON.stringify(good));
    expect(verifyContextRecord(tampered, { keys, nowWallMs: NOW, mac: MAC, lastSeq: none })).toMatchObject({ ok: false, reason: "forged" });
    const stranger = encodeContextRecord(sampleContext(), { signer: "an-9", seq: 5, nowWallMs: NOW, key: k1 });
    expect(verifyContextRecord(stranger, { keys, nowWallMs: NOW, mac: MAC, lastSeq: none })).toMatchObject({ ok: false, reason: "unknown-signer" });
  });

  it("refuses expired, replayed, other-MAC and malformed records", () => {
    const rec = encodeContextRecord(sampleContext({ remainingLifetimeMs: 1000 }), { signer: "an-1", seq: 5, nowWallMs: NOW, key: k1 });
    expect(verifyContextRecord(rec, { keys, nowWallMs: NOW + 1000, mac: MAC, lastSeq: none })).toMatchObject({ ok: false, reason: "expired" });
    const w = new SequenceWindow();
    w.accept("an-1", MAC, 5);
    const opts = { keys, nowWallMs: NOW, mac: MAC, lastSeq: (s: string, m: string) => w.last(s, m) };
    expect(verifyContextRecord(rec, opts)).toMatchObject({ ok: false, reason: "replayed" });
    const newer = encodeContextRecord(sampleContext(), { signer: "an-1", seq: 6, nowWallMs: NOW, key: k1 });
    expect(verifyContextRecord(newer, opts).ok).toBe(true);
    expect(verifyContextRecord(newer, { ...opts, mac: "02:11:22:33:44:02" })).toMatchObject({ ok: false, reason: "wrong-mac" });
    for (const junk of ["", "{}", "[]", '{"body":"{}","sig":"x"}', "null", "x".repeat(70_000)])
      expect(verifyContextRecord(junk, opts)).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("keeps its replay window bounded, oldest out", () => {
    const w = new SequenceWindow(2);
    w.accept("a", "m1", 1);
    w.accept("a", "m2", 2);
    w.accept("a", "m3", 3);
    expect(w.last("a", "m1")).toBeUndefined();
    expect(w.last("a", "m3")).toBe(3);
  });
});
