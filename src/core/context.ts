// A session as a plain, versioned record: what moves to the new AN at handover
// (draft 3.2.3 step 1: at least the NAI and the identification state; the learned
// link-layer address, draft 5.2.2; buffered frames) and what survives a restart.
// The JSON form is validated field by field: a record arrives from the network.

export const CONTEXT_VERSION = 1;

export interface SessionContext {
  readonly version: typeof CONTEXT_VERSION;
  readonly mac: string;
  readonly nai: string;
  readonly homeAgent: number;
  readonly careOf: { readonly address: number; readonly greKey: number | null };
  /** Newest identification used (decimal string of the 64-bit value): the next must exceed it. */
  readonly identification: string;
  readonly clockOffsetMs: number;
  /** "aa:bb:cc:dd:ee:ff" learned from the HA's RA, or null. */
  readonly haLinkLayer: string | null;
  readonly addresses: readonly string[];
  /** Milliseconds of binding lifetime left when the record was made; 0 if not bound. */
  readonly remainingLifetimeMs: number;
  readonly homeAddress: number;
  /** Frames held for the MN (Ethernet frames), hex encoded. */
  readonly heldFrames: readonly string[];
}

export type ContextError = { readonly field: string; readonly problem: string };

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const HEX_RE = /^([0-9a-f]{2})*$/;

function isU32(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** Checks an untrusted value (parsed JSON) and returns the record or the first problem found. */
export function validateContext(v: unknown): { ok: true; value: SessionContext } | { ok: false; error: ContextError } {
  const bad = (field: string, problem: string) => ({ ok: false as const, error: { field, problem } });
  if (typeof v !== "object" || v === null || Array.isArray(v)) return bad("", "not an object");
  const r = v as Record<string, unknown>;
  if (r.version !== CONTEXT_VERSION) return bad("version", `unsupported (want ${CONTEXT_VERSION})`);
  if (typeof r.mac !== "string" || !MAC_RE.test(r.mac)) return bad("mac", "not a lowercase MAC");
  if (typeof r.nai !== "string" || r.nai.length === 0 || new TextEncoder().encode(r.nai).length > 255) return bad("nai", "not 1-255 bytes of UTF-8");
  if (!isU32(r.homeAgent)) return bad("homeAgent", "not an IPv4 address");
  const c = r.careOf as Record<string, unknown> | null;
  if (typeof c !== "object" || c === null || !isU32(c.address) || !(c.greKey === null || isU32(c.greKey)))
    return bad("careOf", "not {address, greKey}");
  if (typeof r.identification !== "string" || !/^\d{1,20}$/.test(r.identification) || BigInt(r.identification) >= 1n << 64n)
    return bad("identification", "not a 64-bit decimal");
  if (typeof r.clockOffsetMs !== "number" || !Number.isFinite(r.clockOffsetMs)) return bad("clockOffsetMs", "not a number");
  if (!(r.haLinkLayer === null || (typeof r.haLinkLayer === "string" && MAC_RE.test(r.haLinkLayer))))
    return bad("haLinkLayer", "not a MAC or null");
  if (!Array.isArray(r.addresses) || r.addresses.length > 64 || !r.addresses.every((a) => typeof a === "string" && a.length <= 45))
    return bad("addresses", "not a list of address strings");
  if (typeof r.remainingLifetimeMs !== "number" || !(r.remainingLifetimeMs >= 0)) return bad("remainingLifetimeMs", "not >= 0");
  if (!isU32(r.homeAddress)) return bad("homeAddress", "not an IPv4 address");
  if (!Array.isArray(r.heldFrames) || r.heldFrames.length > 1024 || !r.heldFrames.every((f) => typeof f === "string" && f.length <= 2 * 65536 && HEX_RE.test(f)))
    return bad("heldFrames", "not a list of hex frames");
  return {
    ok: true,
    value: {
      version: CONTEXT_VERSION,
      mac: r.mac,
      nai: r.nai,
      homeAgent: r.homeAgent,
      careOf: { address: c.address as number, greKey: c.greKey as number | null },
      identification: r.identification,
      clockOffsetMs: r.clockOffsetMs,
      haLinkLayer: r.haLinkLayer as string | null,
      addresses: r.addresses as string[],
      remainingLifetimeMs: r.remainingLifetimeMs,
      homeAddress: r.homeAddress,
      heldFrames: r.heldFrames as string[],
    },
  };
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
