// The state file (config `stateFile`): the context of every session with a
// record, written atomically at most once a second after changes (binds,
// releases, learned link-layer addresses) and snapshotted once a minute while
// such sessions exist, read at start to resume the bindings.
import { validateContext } from "../core/context.ts";
import type { Clock } from "../io/clock.ts";
import { readStateFile, STATE_FILE_VERSION, writeStateFile } from "../io/state-file.ts";
import type { EngineDriver } from "./driver.ts";
import { describeError } from "./errors.ts";
import type { EventLog } from "./event-log.ts";
import type { Logger } from "./logger.ts";

/** How often the state file is rewritten while sessions exist and nothing else changed. */
export const STATE_SNAPSHOT_INTERVAL_MS = 60_000;

export class RestartState {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dirty = false;
  private lastSnapshot = 0;

  constructor(
    private readonly path: () => string,
    private readonly driver: EngineDriver,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly events: EventLog,
    /** Once the daemon is stopping, nothing more is scheduled (the stop writes what it must). */
    private readonly stopping: () => boolean,
  ) {}

  /** Something a record holds changed: written within a second. */
  markDirty(): void {
    this.dirty = true;
  }

  /** After a burst of inputs: one write for the whole burst. */
  scheduleSave(): void {
    if (this.dirty && this.path() && this.timer === undefined && !this.stopping()) {
      // At most one write a second: a burst of attaches is one write.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.save();
      }, 1000);
    }
  }

  /**
   * Refreshes do not mark the state dirty (one write per refresh wears flash);
   * a periodic snapshot keeps the recorded lifetimes from going stale.
   */
  tick(): void {
    const now = this.clock.monotonicMs();
    if (now - this.lastSnapshot < STATE_SNAPSHOT_INTERVAL_MS || this.driver.engine.recordedSessions().length === 0) return;
    this.lastSnapshot = now;
    this.dirty = true;
    this.scheduleSave();
  }

  /** A scheduled write is dropped (stop: it calls `save` itself). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Writes the recorded sessions now (or the given list: [] after a deregistering stop). */
  save(contexts?: unknown[]): void {
    const path = this.path();
    if (!path) return;
    this.dirty = false;
    this.lastSnapshot = this.clock.monotonicMs();
    const now = this.driver.now();
    const engine = this.driver.engine;
    const list = contexts ?? engine.recordedSessions().map((m) => engine.exportContext(now, m)).filter((c) => c !== undefined);
    try {
      writeStateFile(path, { version: STATE_FILE_VERSION, savedAtWallMs: this.clock.wallMs(), contexts: list });
    } catch (e) {
      this.events.once(`state file write failed: ${(e as NodeJS.ErrnoException).code ?? "error"}`, { path, err: describeError(e) });
    }
  }

  /**
   * At start: every valid context resumed, its lifetime shortened by the time the AN
   * was down. `holdRefreshMs` > 0 (a fleet that can tell whether the MN moved
   * meanwhile, resume-check.ts): the refreshes wait at most that long for its verdict.
   * Returns the MACs resumed and when the file was written, for that check.
   */
  restore(holdRefreshMs = 0): { readonly macs: string[]; readonly savedAtWallMs: number } | undefined {
    const path = this.path();
    if (!path) return undefined;
    let state;
    try {
      state = readStateFile(path);
    } catch (e) {
      this.log.error({ path, err: describeError(e) }, "state file unreadable: starting without it");
      return undefined;
    }
    if (!state) return undefined;
    const elapsed = Math.max(0, this.clock.wallMs() - state.savedAtWallMs);
    const macs: string[] = [];
    for (const raw of state.contexts) {
      const v = validateContext(raw);
      if (!v.ok) {
        this.log.warn({ path, field: v.error.field, problem: v.error.problem }, "state file: context skipped");
        continue;
      }
      const context = { ...v.value, remainingLifetimeMs: Math.max(0, v.value.remainingLifetimeMs - elapsed) };
      this.driver.input({ kind: "import-context", context, resume: true, ...(holdRefreshMs > 0 ? { holdRefreshMs } : {}) });
      // Only contexts the engine took (a refused one has no session, so no record).
      if (this.driver.engine.session(context.mac)) macs.push(context.mac);
    }
    this.driver.settle();
    this.log.info({ path, restored: macs.length, of: state.contexts.length, ...(holdRefreshMs > 0 ? { refreshHeldMs: holdRefreshMs } : {}) }, "state restored");
    return { macs, savedAtWallMs: state.savedAtWallMs };
  }
}
