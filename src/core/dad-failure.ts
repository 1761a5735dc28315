// Issue 9 items 1, 2: a DAD failure (draft 3.2.4) in whichever order its two
// halves were read. "na-first": the defending NA reached the live session, then
// the revocation came. "revocation-first": the revocation ended the session and
// the NA reached it while it lingered (revoked-linger.ts). Either way the station
// is detached and held off (entry-hold-off.ts).
import type { EngineParts } from "./engine-parts.ts";
import type { TunnelPacket } from "./forwarding.ts";
import { inspectDownlink } from "./ipv6-inspect.ts";

/** A DAD-failure revocation detaches the MN and holds its entry off. */
export function dadFailureDetach(p: EngineParts, now: number, mac: string, revocationId: number, order: "na-first" | "revocation-first"): void {
  const { counters, outbox, config } = p;
  counters.dadFailureDetaches++;
  outbox.emit({ type: "dad-failure", mac, revocationId, order });
  outbox.push({ kind: "detach", mac });
  outbox.emit({ type: "detach", mac, reason: "dad-failure" });
  if (config.dadFailureHoldOffMs > 0) {
    p.entryHoldOff.hold(mac, now + config.dadFailureHoldOffMs);
    counters.entryHoldOffs++;
    outbox.emit({ type: "entry-held-off", mac, holdOffS: config.dadFailureHoldOffMs / 1000, reason: "dad-failure" });
  }
}

/** A downlink packet for a revoked session still lingering goes to its MN; false when none matches. */
export function deliverLingering(p: EngineParts, now: number, t: TunnelPacket): boolean {
  const l = p.linger.find(now, t.outerDst, t.greKey);
  if (!l || t.outerSrc !== l.homeAgent || t.outerDst !== l.careOf.address) return false;
  const seen = inspectDownlink(t.packet);
  if (seen.kind === "malformed") return false;
  p.counters.revokedLingerDelivered++;
  p.counters.framesToMn++;
  p.outbox.push({ kind: "to-mn", dst: l.macBytes, src: l.haLinkLayer ?? p.config.accessMac, packet: t.packet });
  if (!l.dadFailure && seen.kind === "neighbor-advertisement" && seen.target !== null && l.dadTargets.includes(seen.target)) {
    l.dadFailure = true;
    p.counters.dadFailuresRevocationFirst++;
    dadFailureDetach(p, now, l.mac, l.revocationId, "revocation-first");
  }
  return true;
}
