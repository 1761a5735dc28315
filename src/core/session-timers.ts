// Named timers per session: one slot per timer (Infinity: not armed); the shared
// heap (deadlines.ts) holds only the earliest of them, and when it fires the due
// timer is dispatched by name. The meaning of a deadline is therefore never
// re-derived from the session's state. The slots of all sessions live in the
// wheel's chunks of doubles, a row per session that has a timer armed (issue 12:
// 48 B a session, where an array of its own cost 96 B); the session keeps only
// its row number, and gives the row back once nothing is armed.
//
// Adding a timer: its name in TIMER_ORDER (where it ranks when several are due
// at once) and its handler in the lifecycle's table (the type checker asks).
import { DeadlineQueue } from "./deadlines.ts";
import type { DeadlineOwner } from "./deadlines.ts";

/** Which timer fires first when several of one session are due at once. */
export const TIMER_ORDER = [
  /** The binding at the HA runs out (bound, renewing). */
  "expiry",
  /** Nothing heard from the MN for idleTimeoutMs (bound); extended lazily on fire. */
  "idle",
  /** Time to renew the binding (bound). */
  "refresh",
  /** Resend the request in flight, or give up (registering, renewing, deregistering). */
  "retransmit",
  /** The lifetime-0 request owed to the HA after a binding we cannot use (failed, no-service). */
  "cleanup",
  /** The hold-off after a failure is over: the session goes (failed, no-service). */
  "holdOff",
  /** Issue 10: a bound MN's leave window is over with no release and no return: it deregisters (leave-hold.ts). */
  "leaveHold",
] as const;

export type TimerName = (typeof TIMER_ORDER)[number];

const TIMER_COUNT = TIMER_ORDER.length;
const SLOT = Object.fromEntries(TIMER_ORDER.map((name, i) => [name, i])) as Readonly<Record<TimerName, number>>;
const LEAVE_HOLD_SLOT = SLOT.leaveHold;
/** Rows per chunk (1,024): the wheel grows a chunk at a time and never moves a row. */
const CHUNK_SHIFT = 10;
const ROW_MASK = (1 << CHUNK_SHIFT) - 1;

function offsetOf(row: number): number {
  return (row & ROW_MASK) * TIMER_COUNT;
}

export interface TimerOwner extends DeadlineOwner {
  /** The owner's row in the wheel's chunks; -1 while nothing is armed. Only the wheel writes it. */
  timerRow: number;
}

export class TimerWheel<T extends TimerOwner> {
  private readonly heap = new DeadlineQueue<T>();
  private readonly chunks: Float64Array[] = [];
  private readonly freeRows: number[] = [];
  private rows = 0;

  /** Arms (or moves) one timer, leaving the others as they are. */
  set(owner: T, name: TimerName, at: number): void {
    const [chunk, base] = this.rowOf(owner);
    chunk[base + SLOT[name]] = at;
    this.sync(owner);
  }

  /**
   * Arms one timer and disarms all the others (a new state's single deadline),
   * except the leave window's: it belongs to the session's `away` flag, not to a
   * state, and a renewal's request or reply during the window must not cancel its
   * end (leave-hold.ts ends it when the flag goes).
   */
  only(owner: T, name: TimerName, at: number): void {
    const [chunk, base] = this.rowOf(owner);
    const leaveHold = chunk[base + LEAVE_HOLD_SLOT]!;
    chunk.fill(Infinity, base, base + TIMER_COUNT);
    chunk[base + LEAVE_HOLD_SLOT] = leaveHold;
    chunk[base + SLOT[name]] = at;
    this.sync(owner);
  }

  disarm(owner: T, name: TimerName): void {
    if (owner.timerRow >= 0) this.chunkOf(owner.timerRow)[offsetOf(owner.timerRow) + SLOT[name]] = Infinity;
    this.sync(owner);
  }

  clear(owner: T): void {
    this.releaseRow(owner);
    this.heap.cancel(owner);
  }

  /** When the owner's named timer fires, Infinity when it is not armed. */
  at(owner: T, name: TimerName): number {
    if (owner.timerRow < 0) return Infinity;
    return this.chunkOf(owner.timerRow)[offsetOf(owner.timerRow) + SLOT[name]]!;
  }

  /** The owner's earliest armed timer, Infinity when none. */
  earliest(owner: T): number {
    if (owner.timerRow < 0) return Infinity;
    const chunk = this.chunkOf(owner.timerRow);
    const base = offsetOf(owner.timerRow);
    let at = Infinity;
    for (let i = 0; i < TIMER_COUNT; i++) if (chunk[base + i]! < at) at = chunk[base + i]!;
    return at;
  }

  /** The first timer in TIMER_ORDER of this owner that is due at `now`. */
  dueTimer(owner: T, now: number): TimerName | undefined {
    const slot = this.dueSlot(owner, now);
    return slot >= 0 ? TIMER_ORDER[slot] : undefined;
  }

  /** Rows in use (owners with a timer armed, or not yet synced since the last one fired). */
  get rowsInUse(): number {
    return this.rows - this.freeRows.length;
  }

  /** The earliest armed timer of all owners. */
  next(): number | undefined {
    return this.heap.next();
  }

  /**
   * The next due timer at `now`: its owner and name, already disarmed. Call
   * `sync(owner)` after acting on it (acting may arm others).
   */
  popDue(now: number): { readonly owner: T; readonly name: TimerName } | undefined {
    for (let owner = this.heap.popDue(now); owner; owner = this.heap.popDue(now)) {
      const slot = this.dueSlot(owner, now);
      if (slot >= 0) {
        this.chunkOf(owner.timerRow)[offsetOf(owner.timerRow) + slot] = Infinity;
        return { owner, name: TIMER_ORDER[slot]! };
      }
      this.sync(owner);
    }
    return undefined;
  }

  /** Puts the owner's earliest armed timer in the heap; with none armed its row goes back. */
  sync(owner: T): void {
    const at = this.earliest(owner);
    if (at === Infinity) {
      this.releaseRow(owner);
      this.heap.cancel(owner);
    } else if (owner.deadlineAt !== at) this.heap.arm(owner, at);
  }

  private dueSlot(owner: T, now: number): number {
    if (owner.timerRow < 0) return -1;
    const chunk = this.chunkOf(owner.timerRow);
    const base = offsetOf(owner.timerRow);
    for (let i = 0; i < TIMER_COUNT; i++) if (chunk[base + i]! <= now) return i;
    return -1;
  }

  /** The owner's chunk and the offset of its row there, taking a row (all Infinity) if it has none. */
  private rowOf(owner: T): [Float64Array, number] {
    if (owner.timerRow < 0) {
      const row = this.freeRows.pop() ?? this.rows++;
      if (row >> CHUNK_SHIFT >= this.chunks.length) this.chunks.push(new Float64Array((ROW_MASK + 1) * TIMER_COUNT));
      owner.timerRow = row;
      this.chunkOf(row).fill(Infinity, offsetOf(row), offsetOf(row) + TIMER_COUNT);
    }
    return [this.chunkOf(owner.timerRow), offsetOf(owner.timerRow)];
  }

  private chunkOf(row: number): Float64Array {
    return this.chunks[row >> CHUNK_SHIFT]!;
  }

  private releaseRow(owner: T): void {
    if (owner.timerRow < 0) return;
    this.freeRows.push(owner.timerRow);
    owner.timerRow = -1;
  }
}
