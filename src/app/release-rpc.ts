// Issue 10: the signed release rpc between ANs (MQTT 5 request/response on
// <p>/an/<id>/rpc). The new AN asks the AN that wrote the MN's record to let it go
// and to forward what the HA still sends it to the new AN's care-of address
// (src/core/handover-forward.ts). A forged release would let anyone on the broker cut
// an MN off and redirect its downlink, so the request is signed with the asker's
// fleet key (the envelope of the context records, context-record.ts), names the
// asker (`by`, which must be the signer), is fresh (issued/expiry, at most
// RELEASE_TTL_MS) and not replayed (a sequence above the last one accepted from
// that signer for that MAC, in a bounded window). The answer is signed by the old
// AN and names the request's sequence, so an old answer cannot stand for a new one.
// Every AN's rpc topic is writable by every fleet member, so junk on it is cheap to
// send: every claim that can be checked without the key (shape, signer known, `to`,
// freshness, replay, response topic) is checked first, and the Ed25519 verification
// that remains is admitted by the caller's token bucket (`rate-limited` beyond it).
import type { KeyObject } from "node:crypto";
import { formatIpv4, parseIpv4 } from "../wire/ipv4-address.ts";
import { checkSignature, CONTEXT_RECORD_VERSION, parseEnvelope, signEnvelope } from "./context-record.ts";

/** How long the new AN waits for the old AN's answer to one release request (then asks again: RELEASE_RPC_ATTEMPTS). */
export const RELEASE_RPC_TIMEOUT_MS = 1000;
/** Requests sent for one release at most (the first and its retries, each a new seq). */
export const RELEASE_RPC_ATTEMPTS = 3;
/** How long after the first ask a release is still retried (waiting out a broker outage): a request's TTL. */
export const RELEASE_RETRY_WINDOW_MS = 10_000;
/** How long a request (and an answer) stays valid after it is issued. */
export const RELEASE_TTL_MS = 10_000;
/** An rpc message is small; anything larger is refused before it is parsed. */
const MAX_RPC_BYTES = 2048;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export type ReleaseRefusal = "malformed" | "unknown-signer" | "forged" | "wrong-signer" | "expired" | "replayed" | "wrong-response-topic" | "misdirected" | "bad-target" | "rate-limited";

export interface ReleaseRequest {
  /** The asking AN (the signer). */
  readonly by: string;
  /**
   * The AN asked (its nodeId), signed in: every AN may write every AN's rpc topic, so
   * without it a request captured on one AN's topic could be replayed to another AN,
   * whose replay window has never seen it, within the TTL.
   */
  readonly to: string;
  readonly mac: string;
  /** The asker's care-of address for the MN: where the old AN forwards its downlink. */
  readonly target: number;
  readonly seq: number;
  /**
   * The CoA (and GRE key) of the session the asker took over, as its record named it.
   * The old AN releases only that one: a newer session there is the MN back (A -> B ->
   * A), which a late request (retried over a broker outage) must not cut off. Absent
   * (older firmware, or the asker does not know it): whatever session the MAC has.
   */
  readonly from?: { readonly address: number; readonly greKey: number | null };
}

export type VerifiedRequest = { ok: true; request: ReleaseRequest } | { ok: false; reason: ReleaseRefusal; detail: string };

export function encodeReleaseRequest(r: ReleaseRequest, nowWallMs: number, key: KeyObject): string {
  const from = r.from ? { from: formatIpv4(r.from.address), fromKey: r.from.greKey } : {};
  return signEnvelope({ v: CONTEXT_RECORD_VERSION, op: "release", signer: r.by, by: r.by, to: r.to, mac: r.mac, target: formatIpv4(r.target), ...from, seq: r.seq, issuedAtMs: nowWallMs, expiresAtMs: nowWallMs + RELEASE_TTL_MS }, key);
}

/** Where downlink may be forwarded: not 0/8, loopback, multicast/reserved (224/3) or broadcast. */
function unicastTarget(a: number): boolean {
  const first = a >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

/** Freshness of a signed rpc body: issued not in the future beyond the TTL, not expired, TTL not longer than ours. */
function stale(r: Record<string, unknown>, nowWallMs: number): string | undefined {
  if (typeof r.issuedAtMs !== "number" || typeof r.expiresAtMs !== "number" || r.expiresAtMs - r.issuedAtMs > RELEASE_TTL_MS) return "bad times";
  if (r.expiresAtMs <= nowWallMs) return `expired ${nowWallMs - r.expiresAtMs} ms ago`;
  if (r.issuedAtMs > nowWallMs + RELEASE_TTL_MS) return "issued in the future";
  return undefined;
}

export interface RequestCheck {
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly nowWallMs: number;
  readonly self: string;
  readonly lastSeq: (signer: string, mac: string) => number | undefined;
  /** False when the answer would go elsewhere than the asker's own rpc topic (`by` is the claimed asker). */
  readonly answerTopicOk?: (by: string) => boolean;
  /** Asked right before the signature check (the costly step); false refuses the request as `rate-limited`. */
  readonly admitVerification?: () => boolean;
}

/**
 * Checks a release request; never throws. Order: the claims (shape, signer known,
 * by = signer, to, target, freshness, replay, answer topic), then, if admitted, the
 * signature: a refusal before it costs no verification.
 */
export function verifyReleaseRequest(bytes: Buffer, o: RequestCheck): VerifiedRequest {
  const parsed = parseEnvelope(bytes, o.keys, MAX_RPC_BYTES);
  if (!parsed.ok) return parsed;
  const e = parsed.envelope;
  const r = e.body;
  const target = typeof r.target === "string" ? parseIpv4(r.target) : null;
  if (r.op !== "release" || typeof r.by !== "string" || typeof r.mac !== "string" || !MAC_RE.test(r.mac) || target === null || !Number.isSafeInteger(r.seq) || (r.seq as number) < 0)
    return { ok: false, reason: "malformed", detail: "not a release request" };
  const fromAddress = typeof r.from === "string" ? parseIpv4(r.from) : null;
  const fromKey = r.fromKey === undefined || r.fromKey === null ? null : Number.isInteger(r.fromKey) && (r.fromKey as number) >= 0 && (r.fromKey as number) <= 0xffffffff ? (r.fromKey as number) : undefined;
  if ((r.from !== undefined && fromAddress === null) || fromKey === undefined || (r.from === undefined && r.fromKey !== undefined)) return { ok: false, reason: "malformed", detail: "bad from" };
  if (r.by !== e.signer) return { ok: false, reason: "wrong-signer", detail: `by ${r.by.slice(0, 64)} is not the signer ${e.signer}` };
  if (r.to !== o.self) return { ok: false, reason: "misdirected", detail: `for ${typeof r.to === "string" ? r.to.slice(0, 64) : "nobody"}, not ${o.self}` };
  if (!unicastTarget(target)) return { ok: false, reason: "bad-target", detail: `target ${formatIpv4(target)} is not a unicast address` };
  const old = stale(r, o.nowWallMs);
  if (old) return { ok: false, reason: old === "bad times" ? "malformed" : "expired", detail: old };
  // Only accepted requests move the window, so refusing a replay unverified is safe.
  const last = o.lastSeq(e.signer, r.mac);
  if (last !== undefined && (r.seq as number) <= last) return { ok: false, reason: "replayed", detail: `seq ${String(r.seq)} not above ${last}` };
  if (o.answerTopicOk && !o.answerTopicOk(r.by)) return { ok: false, reason: "wrong-response-topic", detail: "response topic is not the asker's rpc topic" };
  if (o.admitVerification && !o.admitVerification()) return { ok: false, reason: "rate-limited", detail: "signature checks over their rate" };
  if (!checkSignature(e)) return { ok: false, reason: "forged", detail: `signature does not verify for ${e.signer}` };
  const from = fromAddress !== null ? { from: { address: fromAddress, greKey: fromKey } } : {};
  return { ok: true, request: { by: r.by, to: o.self, mac: r.mac, target, seq: r.seq as number, ...from } };
}

export interface ReleaseAnswer {
  readonly signer: string;
  readonly mac: string;
  readonly released: boolean;
  /** The sequence of the request answered. */
  readonly requestSeq: number;
}

export function encodeReleaseAnswer(a: ReleaseAnswer, nowWallMs: number, key: KeyObject): string {
  return signEnvelope({ v: CONTEXT_RECORD_VERSION, op: "released", ...a, issuedAtMs: nowWallMs, expiresAtMs: nowWallMs + RELEASE_TTL_MS }, key);
}

export type AnswerRejection = "malformed" | "unknown-signer" | "forged" | "wrong-signer" | "expired" | "mismatch" | "rate-limited";

/** Checks an answer against the request it should answer; never throws. The claims first, then (if admitted) the signature. */
export function verifyReleaseAnswer(
  bytes: Buffer,
  o: { keys: ReadonlyMap<string, KeyObject>; nowWallMs: number; signer: string; mac: string; requestSeq: number; admitVerification?: () => boolean },
): { ok: true; released: boolean } | { ok: false; reason: AnswerRejection; detail: string } {
  const parsed = parseEnvelope(bytes, o.keys, MAX_RPC_BYTES);
  if (!parsed.ok) return parsed;
  const e = parsed.envelope;
  const r = e.body;
  if (r.op !== "released" || typeof r.released !== "boolean") return { ok: false, reason: "malformed", detail: "not a release answer" };
  if (e.signer !== o.signer) return { ok: false, reason: "wrong-signer", detail: `answered by ${e.signer}, asked ${o.signer}` };
  if (r.mac !== o.mac || r.requestSeq !== o.requestSeq) return { ok: false, reason: "mismatch", detail: "answers another request" };
  const old = stale(r, o.nowWallMs);
  if (old) return { ok: false, reason: old === "bad times" ? "malformed" : "expired", detail: old };
  if (o.admitVerification && !o.admitVerification()) return { ok: false, reason: "rate-limited", detail: "signature checks over their rate" };
  if (!checkSignature(e)) return { ok: false, reason: "forged", detail: `signature does not verify for ${e.signer}` };
  return { ok: true, released: r.released };
}
