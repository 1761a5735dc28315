// After a restart in a fleet: before a resumed session refreshes its binding, is the
// MN still ours? While this AN was down the MN may have moved to another AN: the HA
// moved the binding there and its revocation of us went unheard, and our refresh
// (S bit clear: it replaces every binding of the MN, RFC 5944 3.8.2.2) would take
// the binding back and get that AN revoked. Every AN publishes the MN's signed
// record on <p>/ctx/<mac> when it binds (and refreshes) it, so a verified record of
// ANOTHER fleet AN issued after our state file was saved means the MN moved: the
// session is dropped without any request. Ours, none, older, refused, or no answer
// within RESUME_CHECK_MS of the start: resumed as without a fleet.
//
// The engine forwards for the resumed sessions meanwhile and holds only their
// refresh (import-context holdRefreshMs, RESUME_HOLD_MS: it refreshes by itself if
// no verdict came). One fetch per MAC (one broker round trip each, no fleet-wide
// subscription), a bounded number at once; MACs not fetched within the bound resume.
import type { FetchedContext } from "./fleet-agent.ts";
import type { Logger } from "./logger.ts";

/** How long after the start the fleet may be asked; what is not known by then resumes. */
export const RESUME_CHECK_MS = 2500;
/** The engine's hold of a resumed refresh: a little longer than the check, so the check's verdict normally comes first. */
export const RESUME_HOLD_MS = RESUME_CHECK_MS + 500;
/** Record fetches in flight at once (each costs a SUBSCRIBE, and about 100 ms when there is no record). */
export const RESUME_CHECK_CONCURRENCY = 64;
/** One fetch's wait at most (fleet-agent.ts fetchRecord). */
const FETCH_TIMEOUT_MS = 500;

export interface ResumeCheckOptions {
  /** The resumed sessions' MACs. */
  readonly macs: readonly string[];
  /** When our state file was written (wall ms): a record issued after it is newer than what we resumed. */
  readonly savedAtWallMs: number;
  /** Our nodeId: our own record means the MN is still ours. */
  readonly self: string;
  readonly whenConnected: (ms: number) => Promise<boolean>;
  readonly fetch: (mac: string, timeoutMs: number) => Promise<FetchedContext | undefined>;
  /** The verdict for one MAC: `supersededBy` the AN that has it now, or undefined to refresh now. */
  readonly verdict: (mac: string, supersededBy: string | undefined) => void;
  readonly nowMs: () => number;
  readonly log: Logger;
  readonly boundMs?: number;
  readonly concurrency?: number;
}

export interface ResumeCheckResult {
  readonly checked: number;
  readonly superseded: number;
  /** Resumed without an answer: broker not connected in time, or the bound ran out first. */
  readonly unchecked: number;
}

/** Checks every MAC (bounded in time and concurrency); every MAC gets exactly one verdict. Never rejects. */
export async function checkResumes(o: ResumeCheckOptions): Promise<ResumeCheckResult> {
  const bound = o.boundMs ?? RESUME_CHECK_MS;
  const deadline = o.nowMs() + bound;
  let checked = 0;
  let superseded = 0;
  let next = 0;
  const connected = o.macs.length > 0 && (await o.whenConnected(bound).catch(() => false));
  const worker = async (): Promise<void> => {
    while (next < o.macs.length) {
      const left = deadline - o.nowMs();
      if (left <= 0) return;
      const mac = o.macs[next++]!;
      const record = await o.fetch(mac, Math.min(FETCH_TIMEOUT_MS, left)).catch(() => undefined);
      checked++;
      const by = record && record.signer !== o.self && record.issuedAtMs > o.savedAtWallMs ? record.signer : undefined;
      if (by !== undefined) {
        superseded++;
        o.log.info({ mac, by, issuedAt: new Date(record!.issuedAtMs).toISOString() }, "resumed session superseded: another AN bound the MN while we were down; dropped without a refresh");
      }
      o.verdict(mac, by);
    }
  };
  if (connected) await Promise.all(Array.from({ length: Math.min(o.concurrency ?? RESUME_CHECK_CONCURRENCY, o.macs.length) }, worker));
  // Not asked in time: resumed as without a fleet (the engine's hold would refresh them anyway).
  const unchecked = o.macs.length - next;
  for (; next < o.macs.length; next++) o.verdict(o.macs[next]!, undefined);
  if (o.macs.length > 0) o.log.info({ resumed: o.macs.length, checked, superseded, unchecked, broker: connected ? "connected" : "unreachable" }, "resume check done");
  return { checked, superseded, unchecked };
}
