// Who the MN is to its home agent (draft section 4: the link-authentication
// username if known, else a provisioned identity, else one derived from the MAC),
// and which home agent and key serve it (chosen by the NAI's realm).
import type { EngineConfig, RealmConfig } from "./config.ts";
import { DEFAULT_IDENTITY_ORDER } from "./config.ts";

/** "context": the identity came with a session context (handover or restart). */
export type IdentitySource = "link-auth" | "provisioned" | "derived" | "context";

export interface Identity {
  readonly nai: string;
  readonly source: IdentitySource;
  readonly realm: RealmConfig;
}

export type IdentityRefusal = { readonly reason: "no-realm" | "nai-too-long" | "no-identity" | "no-key"; readonly nai: string };

/** RFC 2794: the MN-NAI extension's Length is one octet. */
export const MAX_NAI_BYTES = 255;

export function naiByteLength(nai: string): number {
  return new TextEncoder().encode(nai).length;
}

export function realmOf(nai: string): string {
  const at = nai.lastIndexOf("@");
  return at < 0 ? "" : nai.slice(at + 1).toLowerCase();
}

export function findRealm(config: EngineConfig, realm: string): RealmConfig | undefined {
  let wildcard: RealmConfig | undefined;
  for (const r of config.realms) {
    if (r.realm.toLowerCase() === realm) return r;
    if (r.realm === "*") wildcard = r;
  }
  return wildcard;
}

/** `0200aabbccdd@realm`: hex without separators, since ':' is not NAI-safe everywhere. */
export function derivedNai(macText: string, realm: string): string {
  return `${macText.replace(/:/g, "")}@${realm}`;
}

/**
 * The realm as it serves this NAI: with the NAI's own key from the key table if it
 * has one, else the realm's own where the realm allows that; undefined: no realm,
 * or no key the config allows.
 */
export function realmForNai(config: EngineConfig, nai: string): RealmConfig | undefined {
  const realm = findRealm(config, realmOf(nai));
  if (!realm) return undefined;
  const own = config.naiKeys?.get(nai);
  if (own) return { ...realm, mnHaKey: own };
  return realm.realmKeyFallback === false ? undefined : realm;
}

export function resolveIdentity(
  config: EngineConfig,
  macText: string,
  linkIdentity: string | undefined,
): Identity | IdentityRefusal {
  let nai: string | undefined;
  let source: IdentitySource = "derived";
  for (const link of config.identityOrder ?? DEFAULT_IDENTITY_ORDER) {
    if (link === "link-auth" && linkIdentity !== undefined && linkIdentity.length > 0) nai = linkIdentity;
    else if (link === "provisioned") nai = config.provisioned.get(macText);
    else if (link === "derived") nai = derivedNai(macText, config.derivedRealm);
    if (nai !== undefined) {
      source = link;
      break;
    }
  }
  if (nai === undefined) return { reason: "no-identity", nai: macText };
  if (naiByteLength(nai) > MAX_NAI_BYTES) return { reason: "nai-too-long", nai: `${nai.slice(0, 64)}...` };
  if (!findRealm(config, realmOf(nai))) return { reason: "no-realm", nai };
  const realm = realmForNai(config, nai);
  if (!realm) return { reason: "no-key", nai };
  return { nai, source, realm };
}
