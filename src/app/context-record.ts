// The signed context record handed between ANs over the broker (retained on
// <p>/ctx/<mac>): the engine's export of a session (never a key: SessionContext has
// none), signed with the writer's Ed25519 key, with a sequence against replay and
// an expiry equal to the binding's remaining lifetime. A forged record could hijack
// a subscriber's traffic, so a reader checks the signer against the fleet's public
// keys before anything else is believed.
//
// Wire form (JSON): {"body": "<JSON text>", "sig": "<base64 Ed25519 over body's UTF-8>"}
// body: {"v":1, "signer", "seq", "issuedAtMs", "expiresAtMs", "context"}. The
// signature covers the exact body text, so no canonical JSON is needed.
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { SessionContext } from "../core/context.ts";
import { validateContext } from "../core/context.ts";

export const CONTEXT_RECORD_VERSION = 1;
export const MAX_CONTEXT_RECORD_BYTES = 64 << 10;

export interface ContextRecordBody {
  readonly v: typeof CONTEXT_RECORD_VERSION;
  readonly signer: string;
  readonly seq: number;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  readonly context: SessionContext;
}

export type RecordRejection = "malformed" | "unknown-signer" | "forged" | "wrong-mac" | "expired" | "replayed";

export type VerifiedRecord = { ok: true; body: ContextRecordBody } | { ok: false; reason: RecordRejection; detail: string };

// DER wrappers for raw Ed25519 keys (RFC 8410): PKCS#8 around a 32-byte seed, SPKI around a 32-byte public key.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new Error("an Ed25519 seed is 32 bytes");
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error("an Ed25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** The raw 32-byte public key of a private key (to list in fleet.fleetKeys). */
export function rawPublicKey(key: KeyObject): Buffer {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32);
}

/** A record for `context`, which is copied without its held frames (those are forwarded, not published). */
export function encodeContextRecord(context: SessionContext, o: { signer: string; seq: number; nowWallMs: number; key: KeyObject }): string {
  const body: ContextRecordBody = {
    v: CONTEXT_RECORD_VERSION,
    signer: o.signer,
    seq: o.seq,
    issuedAtMs: o.nowWallMs,
    expiresAtMs: o.nowWallMs + context.remainingLifetimeMs,
    context: { ...context, heldFrames: [] },
  };
  return signEnvelope(body, o.key);
}

/**
 * The signed envelope (also of the release rpc, release-rpc.ts):
 * {"body": "<JSON text>", "sig": "<base64 Ed25519 over the body's UTF-8>"}.
 */
export function signEnvelope(body: object, key: KeyObject): string {
  const text = JSON.stringify(body);
  const sig = sign(null, Buffer.from(text, "utf8"), key).toString("base64");
  return JSON.stringify({ body: text, sig });
}

export type OpenedEnvelope =
  | { ok: true; body: Record<string, unknown>; signer: string }
  | { ok: false; reason: "malformed" | "unknown-signer" | "forged"; detail: string };

/** An envelope parsed but not yet verified: its body claims are not to be believed before checkSignature. */
export interface ParsedEnvelope {
  readonly body: Record<string, unknown>;
  /** The claimed signer, known in `keys`. */
  readonly signer: string;
  readonly key: KeyObject;
  readonly bodyText: string;
  readonly sig: string;
}

/**
 * Parses an envelope and finds the key of the body's claimed `signer`, without the
 * signature check (the one costly step): a caller puts its own cheap checks of the
 * claims between this and checkSignature, so junk costs no Ed25519 verification. Never throws.
 */
export function parseEnvelope(
  bytes: Buffer | string,
  keys: ReadonlyMap<string, KeyObject>,
  maxBytes = MAX_CONTEXT_RECORD_BYTES,
): { ok: true; envelope: ParsedEnvelope } | { ok: false; reason: "malformed" | "unknown-signer"; detail: string } {
  const bad = (reason: "malformed" | "unknown-signer", detail: string) => ({ ok: false as const, reason, detail });
  const text = typeof bytes === "string" ? bytes : bytes.toString("utf8");
  if (Buffer.byteLength(text) > maxBytes) return bad("malformed", "too large");
  let outer: unknown;
  let body: unknown;
  let bodyText: string;
  try {
    outer = JSON.parse(text);
    if (typeof outer !== "object" || outer === null) return bad("malformed", "not an object");
    const b = (outer as Record<string, unknown>).body;
    if (typeof b !== "string") return bad("malformed", "no body");
    bodyText = b;
    body = JSON.parse(b);
  } catch {
    return bad("malformed", "invalid JSON");
  }
  const sig = (outer as Record<string, unknown>).sig;
  if (typeof sig !== "string" || !/^[A-Za-z0-9+/]{86}==$/.test(sig)) return bad("malformed", "no Ed25519 signature");
  if (typeof body !== "object" || body === null) return bad("malformed", "body not an object");
  const r = body as Record<string, unknown>;
  if (r.v !== CONTEXT_RECORD_VERSION) return bad("malformed", "unsupported version");
  if (typeof r.signer !== "string") return bad("malformed", "no signer");
  const key = keys.get(r.signer);
  if (!key) return bad("unknown-signer", `signer ${r.signer.slice(0, 64)} is not in fleet.fleetKeys`);
  return { ok: true, envelope: { body: r, signer: r.signer, key, bodyText, sig } };
}

/** The Ed25519 check of a parsed envelope; never throws. */
export function checkSignature(e: ParsedEnvelope): boolean {
  try {
    return verify(null, Buffer.from(e.bodyText, "utf8"), e.key, Buffer.from(e.sig, "base64"));
  } catch {
    return false;
  }
}

/** Parses an envelope and checks its signature against the key of the body's `signer`; never throws. */
export function openEnvelope(bytes: Buffer | string, keys: ReadonlyMap<string, KeyObject>, maxBytes = MAX_CONTEXT_RECORD_BYTES): OpenedEnvelope {
  const parsed = parseEnvelope(bytes, keys, maxBytes);
  if (!parsed.ok) return parsed;
  const e = parsed.envelope;
  if (!checkSignature(e)) return { ok: false, reason: "forged", detail: `signature does not verify for ${e.signer}` };
  return { ok: true, body: e.body, signer: e.signer };
}

export interface VerifyOptions {
  /** The fleet's public keys by nodeId. */
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly nowWallMs: number;
  /** The MAC the record was fetched for ("aa:bb:cc:dd:ee:ff"). */
  readonly mac: string;
  /** Highest sequence accepted so far from this signer for this MAC (replay window). */
  readonly lastSeq: (signer: string, mac: string) => number | undefined;
}

/** Checks a record; never throws. Order: shape, signer, signature, then the signed claims. */
export function verifyContextRecord(bytes: Buffer | string, o: VerifyOptions): VerifiedRecord {
  const bad = (reason: RecordRejection, detail: string): VerifiedRecord => ({ ok: false, reason, detail });
  const opened = openEnvelope(bytes, o.keys);
  if (!opened.ok) return opened;
  const r = opened.body;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 0) return bad("malformed", "bad seq");
  if (typeof r.issuedAtMs !== "number" || typeof r.expiresAtMs !== "number") return bad("malformed", "bad times");
  const ctx = validateContext(r.context);
  if (!ctx.ok) return bad("malformed", `context ${ctx.error.field}: ${ctx.error.problem}`);
  if (ctx.value.mac !== o.mac) return bad("wrong-mac", "record is for another MAC");
  if (r.expiresAtMs <= o.nowWallMs) return bad("expired", "binding lifetime over");
  const last = o.lastSeq(opened.signer, o.mac);
  if (last !== undefined && (r.seq as number) <= last) return bad("replayed", `seq ${String(r.seq)} not above ${last}`);
  // The lifetime left now, not when it was written.
  const context: SessionContext = { ...ctx.value, remainingLifetimeMs: Math.max(0, r.expiresAtMs - o.nowWallMs), heldFrames: [] };
  return { ok: true, body: { v: CONTEXT_RECORD_VERSION, signer: opened.signer, seq: r.seq as number, issuedAtMs: r.issuedAtMs, expiresAtMs: r.expiresAtMs, context } };
}

/** The replay window: highest sequence accepted per signer and MAC, bounded in entries. */
export class SequenceWindow {
  private readonly seen = new Map<string, number>();
  constructor(private readonly maxEntries = 65536) {}

  last(signer: string, mac: string): number | undefined {
    return this.seen.get(`${signer} ${mac}`);
  }

  accept(signer: string, mac: string, seq: number): void {
    const k = `${signer} ${mac}`;
    this.seen.delete(k);
    this.seen.set(k, seq);
    // Oldest first out (Map keeps insertion order).
    while (this.seen.size > this.maxEntries) this.seen.delete(this.seen.keys().next().value as string);
  }
}
