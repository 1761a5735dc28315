// Named timers per session. Each session carries one slot per timer (Infinity:
// not armed), in a plain array of doubles (compact at 100,000 sessions); the
// shared heap (deadlines.ts) holds only the earliest of them, and when it fires
// the due timer is dispatched by name. The meaning of a deadline is therefore
// never re-derived from the session's state.
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
] as const;

export type TimerName = (typeof TIMER_ORDER)[number];

const TIMER_COUNT = TIMER_ORDER.length;
const SLOT = Object.fromEntries(TIMER_ORDER.map((name, i) => [name, i])) as Readonly<Record<TimerName, number>>;

/** One slot per TIMER_ORDER entry: when it fires (monotonic ms), Infinity when not armed. */
export type SessionTimers = number[];

export function newTimers(): SessionTimers {
  // Sized at once: growing by push would leave a backing store of 17 slots.
  return new Array<number>(TIMER_COUNT).fill(Infinity);
}

/** When the named timer fires, Infinity when it is not armed. */
export function timerAt(timers: SessionTimers, name: TimerName): number {
  return timers[SLOT[name]]!;
}

export interface TimerOwner extends DeadlineOwner {
  readonly timers: SessionTimers;
}

export class TimerWheel<T extends TimerOwner> {
  private readonly heap = new DeadlineQueue<T>();

  /** Arms (or moves) one timer, leaving the others as they are. */
  set(owner: T, name: TimerName, at: number): void {
    owner.timers[SLOT[name]] = at;
    this.sync(owner);
  }

  /** Arms one timer and disarms all the others (a new state's single deadline). */
  only(owner: T, name: TimerName, at: number): void {
    owner.timers.fill(Infinity);
    owner.timers[SLOT[name]] = at;
    this.sync(owner);
  }

  disarm(owner: T, name: TimerName): void {
    owner.timers[SLOT[name]] = Infinity;
    this.sync(owner);
  }

  clear(owner: T): void {
    owner.timers.fill(Infinity);
    this.heap.cancel(owner);
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
      const slot = dueSlot(owner.timers, now);
      if (slot >= 0) {
        owner.timers[slot] = Infinity;
        return { owner, name: TIMER_ORDER[slot]! };
      }
      this.sync(owner);
    }
    return undefined;
  }

  /** Puts the owner's earliest armed timer in the heap. */
  sync(owner: T): void {
    const at = earliest(owner.timers);
    if (at === Infinity) this.heap.cancel(owner);
    else if (owner.deadlineAt !== at) this.heap.arm(owner, at);
  }
}

export function earliest(timers: SessionTimers): number {
  let at = Infinity;
  for (let i = 0; i < TIMER_COUNT; i++) if (timers[i]! < at) at = timers[i]!;
  return at;
}

/** The first timer in TIMER_ORDER that is due at `now`. */
export function dueTimer(timers: SessionTimers, now: number): TimerName | undefined {
  const slot = dueSlot(timers, now);
  return slot >= 0 ? TIMER_ORDER[slot] : undefined;
}

function dueSlot(timers: SessionTimers, now: number): number {
  for (let i = 0; i < TIMER_COUNT; i++) if (timers[i]! <= now) return i;
  return -1;
}
