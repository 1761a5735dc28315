// Signatures over MN context records (DESIGN.md 4: records under <p>/ctx/<mac> are
// signed by the AN that wrote them; the fleet's public keys are in config). Ed25519
// from node:crypto (RFC 8032, deterministic: the same key and record always give the
// same 64 bytes, so a known answer can be checked). The record is signed with a domain
// prefix so a signature made for something else never verifies as a context record.
// Kept small on purpose: the MQTT context-transfer work builds the record format and
// key handling on these four functions; `an selftest` checks them against known answers.
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";

export const ED25519_SEED_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;
/** Prepended to every context record before signing (never sent: both ends add it). */
export const CONTEXT_SIGNATURE_DOMAIN = new TextEncoder().encode("netmip/v1 context record\0");

// DER wrappers of a raw Ed25519 key (RFC 8410): PKCS#8 private key, SubjectPublicKeyInfo.
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The private key of a raw 32-byte RFC 8032 seed. Throws RangeError on another length. */
export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  if (seed.length !== ED25519_SEED_LENGTH) throw new RangeError(`Ed25519 seed is ${seed.length} bytes, expected ${ED25519_SEED_LENGTH}`);
  return createPrivateKey({ key: Buffer.from(join(PKCS8_PREFIX, seed)), format: "der", type: "pkcs8" });
}

/** The public key of a raw 32-byte RFC 8032 public key. Throws RangeError on another length. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== ED25519_PUBLIC_KEY_LENGTH) throw new RangeError(`Ed25519 public key is ${raw.length} bytes, expected ${ED25519_PUBLIC_KEY_LENGTH}`);
  return createPublicKey({ key: Buffer.from(join(SPKI_PREFIX, raw)), format: "der", type: "spki" });
}

/** Plain Ed25519 over `message` (no domain prefix): for known-answer checks against RFC 8032. */
export function ed25519Sign(message: Uint8Array, key: KeyObject): Uint8Array {
  return new Uint8Array(sign(null, message, key));
}

/** Plain Ed25519 verification; false (never a throw) for a wrong-length or bad signature. */
export function ed25519Verify(message: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** The 64-byte signature of a context record (domain-prefixed). */
export function signContextRecord(record: Uint8Array, key: KeyObject): Uint8Array {
  return ed25519Sign(join(CONTEXT_SIGNATURE_DOMAIN, record), key);
}

/** Whether `signature` is `key`'s signature of `record`; false for anything malformed. */
export function verifyContextRecord(record: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  return ed25519Verify(join(CONTEXT_SIGNATURE_DOMAIN, record), signature, key);
}
