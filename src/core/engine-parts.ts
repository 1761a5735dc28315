// What the parts of the engine share: the config in force, the injected sources,
// the counters, the outbox, the session table and the timers. The engine owns
// these and hands the same object to each part; parts never import the engine.
import type { CareOfAllocator } from "./care-of.ts";
import type { EngineConfig } from "./config.ts";
import type { EngineCounters } from "./counters.ts";
import type { EntryHoldOff } from "./entry-hold-off.ts";
import type { ExpiringTunnelIndex } from "./expiring-tunnel-index.ts";
import type { ReleaseReason } from "./events.ts";
import type { HandoverForward } from "./handover-forward.ts";
import type { HandoverStats } from "./handover-stats.ts";
import type { HoldPool } from "./hold-buffer.ts";
import type { RevokedAway } from "./leave-hold.ts";
import type { Outbox } from "./outbox.ts";
import type { RandomSource } from "./random.ts";
import type { RegistrationStats } from "./registration-stats.ts";
import type { RevokedLinger } from "./revoked-linger.ts";
import type { Session } from "./session.ts";
import type { SessionTable } from "./session-table.ts";
import type { TimerWheel } from "./session-timers.ts";
import type { SessionInput } from "./transitions.ts";

export interface EngineParts {
  /** Swapped by `reconfigure`: read it at use, never keep a copy. */
  config: EngineConfig;
  readonly random: RandomSource;
  /** Wall clock minus monotonic clock (ms): identifications are wall-clock timestamps. */
  wallOffsetMs: number;
  readonly counters: EngineCounters;
  readonly outbox: Outbox;
  readonly table: SessionTable;
  readonly timers: TimerWheel<Session>;
  readonly hold: HoldPool;
  readonly careOf: CareOfAllocator;
  /** issue 9 item 1: revoked sessions lingering (their HA's NA may still come). */
  readonly linger: RevokedLinger;
  /** issue 10: released sessions forwarding to the new AN, and handed-over ones accepting from the old. */
  readonly handoverForward: HandoverForward;
  /** issue 10: sessions revoked during their leave window, holding their downlink for a release (leave-hold.ts). */
  readonly leaveHolds: ExpiringTunnelIndex<RevokedAway>;
  /** issue 9 item 2: stations held off after a DAD failure. */
  readonly entryHoldOff: EntryHoldOff;
  /** Issue 10: replies by code, timeouts, round trips per HA. */
  readonly registrationStats: RegistrationStats;
  /** Issue 10: imported sessions waiting for their first forwarded frame (handover interruption). */
  readonly handovers: HandoverStats;
  /** Resumed sessions whose refresh waits for the app's check (import-context holdRefreshMs; resume-checked). */
  readonly resumeHeld: WeakSet<Session>;
  /** issue 9 item 5: set by the shutdown input; deadlines then send what is owed and end sessions. */
  shuttingDown: boolean;
}

/** An input for one session's state machine, produced by a part and applied by the lifecycle. */
export interface SessionStep {
  readonly session: Session;
  readonly input: SessionInput;
  /** The release reason, when it is not the input's own (see releaseReasonFor). */
  readonly reason?: ReleaseReason;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
