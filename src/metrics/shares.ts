// Bounded `share` label values: at most `max` shares keep their own name,
// the rest are merged under share="other". The label set is what the source
// reports now: a share it no longer reports (its mount and kernel entries
// gone) ages out and frees its place. A share keeps the label it got while it
// stays (named or "other"), so series do not hop between the two from one
// scrape to the next when shares come and go.

export const OTHER_SHARE = "other";

export class ShareCap {
  /** Share → its own name, or OTHER_SHARE. */
  private readonly assigned = new Map<string, string>();
  private named = 0;

  constructor(readonly max: number) {}

  /**
   * The label of every share in `present` (what the source reports now), in
   * a map; shares not in it are forgotten. New shares get their own name
   * while fewer than `max` have one, in the order given (callers sort them,
   * so the busiest or the first in name order win, as they choose).
   */
  labels(present: Iterable<string>): Map<string, string> {
    const now = new Set(present);
    for (const [share, label] of this.assigned)
      if (!now.has(share)) {
        this.assigned.delete(share);
        if (label !== OTHER_SHARE) this.named--;
      }
    for (const share of now) {
      if (this.assigned.has(share)) continue;
      const own = this.named < this.max;
      this.assigned.set(share, own ? share : OTHER_SHARE);
      if (own) this.named++;
    }
    return this.assigned;
  }
}
