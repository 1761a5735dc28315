// One timer for all sessions: a binary min-heap of owners ordered by their
// deadlineAt. Each owner knows its position in the heap (deadlineSlot), so
// re-arming or cancelling moves or removes it in place: O(log n), exactly one
// heap slot per armed owner and no entry objects (at 100,000 sessions an entry
// object per arm, stale ones included, was about 150 B per session; see the
// engine-state figure of test/bench/engine.bench.ts). The driver arms a single
// OS timer for the earliest deadline.

export interface DeadlineOwner {
  /** The armed deadline, or undefined when none. */
  deadlineAt: number | undefined;
  /** Where the owner sits in the queue's heap; -1 when not armed. Only the queue writes it. */
  deadlineSlot: number;
}

export class DeadlineQueue<T extends DeadlineOwner> {
  private readonly heap: T[] = [];

  arm(owner: T, at: number): void {
    const heap = this.heap;
    owner.deadlineAt = at;
    if (owner.deadlineSlot < 0 || heap[owner.deadlineSlot] !== owner) {
      owner.deadlineSlot = heap.length;
      heap.push(owner);
    }
    this.siftDown(this.siftUp(owner.deadlineSlot));
  }

  cancel(owner: T): void {
    const i = owner.deadlineSlot;
    if (i >= 0 && this.heap[i] === owner) this.removeAt(i);
    owner.deadlineSlot = -1;
    owner.deadlineAt = undefined;
  }

  /** Earliest deadline, or undefined when nothing is armed. */
  next(): number | undefined {
    return this.heap[0]?.deadlineAt;
  }

  /** Removes and returns the owner of the earliest deadline if it is due at `now`. */
  popDue(now: number): T | undefined {
    const top = this.heap[0];
    if (!top || top.deadlineAt! > now) return undefined;
    this.removeAt(0);
    top.deadlineSlot = -1;
    top.deadlineAt = undefined;
    return top;
  }

  /** Heap slots in use (one per armed owner). */
  get size(): number {
    return this.heap.length;
  }

  get armedCount(): number {
    return this.heap.length;
  }

  private removeAt(i: number): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (i < heap.length) {
      heap[i] = last;
      last.deadlineSlot = i;
      this.siftDown(this.siftUp(i));
    }
  }

  /** Moves the owner at `i` up while it is earlier than its parent; returns where it ends. */
  private siftUp(i: number): number {
    const heap = this.heap;
    const item = heap[i]!;
    const at = item.deadlineAt!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.deadlineAt! <= at) break;
      heap[i] = p;
      p.deadlineSlot = i;
      i = parent;
    }
    heap[i] = item;
    item.deadlineSlot = i;
    return i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i]!;
    const at = item.deadlineAt!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.deadlineAt! < heap[l]!.deadlineAt! ? r : l;
      const child = heap[c]!;
      if (child.deadlineAt! >= at) break;
      heap[i] = child;
      child.deadlineSlot = i;
      i = c;
    }
    heap[i] = item;
    item.deadlineSlot = i;
  }
}
