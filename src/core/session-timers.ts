// Named timers per session. Each session carries one slot per timer (Infinity:
// not armed); the shared heap (deadlines.ts) holds only the earliest of them,
// and when it fires the due timer is dispatched by name. The meaning of a
// deadline is therefore never re-derived from the session's state.
//
// Adding a timer: a field in SessionTimers, its place in TIMER_ORDER, and its
// handler in the lifecycle's table (the type checker asks for the last one).
import { DeadlineQueue } from "./deadlines.ts";
import type { DeadlineOwner } from "./deadlines.ts";

export class SessionTimers {
  /** The binding at the HA runs out (bound, renewing). */
  expiry = Infinity;
  /** Nothing heard from the MN for idleTimeoutMs (bound); extended lazily on fire. */
  idle = Infinity;
  /** Time to renew the binding (bound). */
  refresh = Infinity;
  /** Resend the request in flight, or give up (registering, renewing, deregistering). */
  retransmit = Infinity;
  /** The lifetime-0 request owed to the HA after a binding we cannot use (failed, no-service). */
  cleanup = Infinity;
  /** The hold-off after a failure is over: the session goes (failed, no-service). */
  holdOff = Infinity;
}

export type TimerName = keyof SessionTimers;

/** Which timer fires first when several are due at once. */
export const TIMER_ORDER: readonly TimerName[] = ["expiry", "idle", "refresh", "retransmit", "cleanup", "holdOff"];

export interface TimerOwner extends DeadlineOwner {
  readonly timers: SessionTimers;
}

export class TimerWheel<T extends TimerOwner> {
  private readonly heap = new DeadlineQueue<T>();

  /** Arms (or moves) one timer, leaving the others as they are. */
  set(owner: T, name: TimerName, at: number): void {
    owner.timers[name] = at;
    this.sync(owner);
  }

  /** Arms one timer and disarms all the others (a new state's single deadline). */
  only(owner: T, name: TimerName, at: number): void {
    this.clearSlots(owner);
    owner.timers[name] = at;
    this.sync(owner);
  }

  disarm(owner: T, name: TimerName): void {
    owner.timers[name] = Infinity;
    this.sync(owner);
  }

  clear(owner: T): void {
    this.clearSlots(owner);
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
      const name = dueTimer(owner.timers, now);
      if (name !== undefined) {
        owner.timers[name] = Infinity;
        return { owner, name };
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

  private clearSlots(owner: T): void {
    const t = owner.timers;
    for (const name of TIMER_ORDER) t[name] = Infinity;
  }
}

export function earliest(timers: SessionTimers): number {
  let at = Infinity;
  for (const name of TIMER_ORDER) if (timers[name] < at) at = timers[name];
  return at;
}

/** The first timer in TIMER_ORDER that is due at `now`. */
export function dueTimer(timers: SessionTimers, now: number): TimerName | undefined {
  for (const name of TIMER_ORDER) if (timers[name] <= now) return name;
  return undefined;
}
