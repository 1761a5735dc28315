// The engine's one queue of actions, drained by `poll()`. Every part of the
// engine that has something to say (a send, a bind, an event) pushes here, so
// no part needs the engine itself to be heard: that keeps the imports one-way.
import type { Action, AnEvent } from "./events.ts";

export class Outbox {
  private readonly actions: Action[] = [];
  private head = 0;

  push(action: Action): void {
    this.actions.push(action);
  }

  emit(event: AnEvent): void {
    this.actions.push({ kind: "event", event });
  }

  /** The next action to carry out, or undefined when there is none. */
  poll(): Action | undefined {
    if (this.head >= this.actions.length) {
      if (this.head > 0) {
        this.actions.length = 0;
        this.head = 0;
      }
      return undefined;
    }
    return this.actions[this.head++];
  }
}
