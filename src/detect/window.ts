// Count of matching events in a sliding time window ending at the newest one.
// Times are the events' own (ns), so replay and live runs decide alike.
export class SlidingWindow {
  private times: Float64Array;
  private head = 0; // index of the oldest kept time
  private size = 0;

  constructor(
    readonly windowNs: number,
    capacity = 64,
  ) {
    this.times = new Float64Array(capacity);
  }

  /** Adds an event at time t (ns) and returns how many fall in (t - window, t]. */
  add(t: number): number {
    this.expire(t);
    if (this.size === this.times.length) this.grow();
    this.times[(this.head + this.size) % this.times.length] = t;
    this.size++;
    return this.size;
  }

  /** Drops times at or before t - window. */
  expire(t: number): void {
    const cutoff = t - this.windowNs;
    while (this.size > 0 && this.times[this.head]! <= cutoff) {
      this.head = (this.head + 1) % this.times.length;
      this.size--;
    }
  }

  get count(): number {
    return this.size;
  }

  clear(): void {
    this.size = 0;
    this.head = 0;
  }

  private grow(): void {
    const next = new Float64Array(this.times.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = this.times[(this.head + i) % this.times.length]!;
    this.times = next;
    this.head = 0;
  }
}
