// One timer for all sessions: a binary min-heap of (time, owner, generation).
// Re-arming an owner bumps its generation instead of searching the heap; stale
// entries are discarded when they reach the top. That keeps arm O(log n) and
// lets the driver arm a single OS timer for the earliest deadline.

export interface DeadlineOwner {
  /** Bumped on every arm/cancel; heap entries with another generation are stale. */
  deadlineGeneration: number;
  /** The armed deadline, or undefined when none. */
  deadlineAt: number | undefined;
}

interface Entry<T extends DeadlineOwner> {
  at: number;
  owner: T;
  generation: number;
}

export class DeadlineQueue<T extends DeadlineOwner> {
  private heap: Entry<T>[] = [];

  private armed = 0;

  arm(owner: T, at: number): void {
    if (owner.deadlineAt === undefined) this.armed++;
    owner.deadlineGeneration++;
    owner.deadlineAt = at;
    this.heap.push({ at, owner, generation: owner.deadlineGeneration });
    this.siftUp(this.heap.length - 1);
    // Stale entries accumulate when owners re-arm often; rebuild when they dominate.
    if (this.heap.length > 64 && this.heap.length > 2 * this.armed) this.compact();
  }

  cancel(owner: T): void {
    if (owner.deadlineAt !== undefined) this.armed--;
    owner.deadlineGeneration++;
    owner.deadlineAt = undefined;
  }

  /** Earliest live deadline, or undefined when nothing is armed. */
  next(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** Removes and returns the owner of the earliest deadline if it is due at `now`. */
  popDue(now: number): T | undefined {
    this.dropStale();
    const top = this.heap[0];
    if (!top || top.at > now) return undefined;
    this.popTop();
    this.armed--;
    top.owner.deadlineAt = undefined;
    top.owner.deadlineGeneration++;
    return top.owner;
  }

  /** Heap entries, stale ones included (for tests of compaction). */
  get size(): number {
    return this.heap.length;
  }

  get armedCount(): number {
    return this.armed;
  }

  private dropStale(): void {
    for (let top = this.heap[0]; top && top.generation !== top.owner.deadlineGeneration; top = this.heap[0]) {
      this.popTop();
    }
  }

  private compact(): void {
    this.heap = this.heap.filter((e) => e.generation === e.owner.deadlineGeneration);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private popTop(): void {
    const last = this.heap.pop();
    if (last && this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.at <= item.at) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.at < heap[l]!.at ? r : l;
      if (heap[c]!.at >= item.at) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = item;
  }
}
