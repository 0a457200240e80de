// The histograms' `le` bounds, coalesced exactly from the kernel's log2
// buckets: bucket i counts latencies in [2^i, 2^(i+1)) us (bucket 0 also
// holds < 1 us), so a bound at 2^k us is the sum of buckets 0 … k-1, nothing
// interpolated. 11 finite bounds from 128 us to 8.4 s: every power of two
// from 2 ms to 33 ms, where SMB and NFS latencies mostly fall, every fourth
// power below and above, then +Inf.
import { HIST_SLOTS } from "../tools/hist";

/** The exponents k of the finite bounds 2^k us. */
export const BOUND_EXPONENTS: readonly number[] = [7, 9, 11, 12, 13, 14, 15, 17, 19, 21, 23];

/** The bounds in seconds (2^k / 1e6, exact in binary64 to print as written). */
export const BOUNDS_SEC: readonly number[] = BOUND_EXPONENTS.map((k) => 2 ** k / 1e6);

/** The `le` label values, in order, +Inf last (as Go's %g renders them, which OpenMetrics asks for). */
export const LE_VALUES: readonly string[] = [...BOUNDS_SEC.map((b) => String(b)), "+Inf"];

/** A bucket's representative latency for `_sum`: its midpoint 1.5·2^i us, in seconds. */
const MIDPOINT_SEC: readonly number[] = Array.from({ length: HIST_SLOTS }, (_, i) => (1.5 * 2 ** i) / 1e6);

/**
 * Cumulative counts at each bound of LE_VALUES (the last is the total), and
 * the `_sum` estimate from the bucket midpoints, written into `out`
 * (LE_VALUES.length + 1 numbers: the bounds, then the sum) so that a scrape
 * allocates nothing per series.
 */
export function coalesce(counts: readonly number[], out: Float64Array): void {
  let cum = 0;
  let sum = 0;
  let b = 0;
  let edge = BOUND_EXPONENTS[0]!;
  const n = Math.min(counts.length, HIST_SLOTS);
  for (let i = 0; i < n; i++) {
    while (i === edge) {
      out[b++] = cum;
      edge = b < BOUND_EXPONENTS.length ? BOUND_EXPONENTS[b]! : Number.POSITIVE_INFINITY;
    }
    const c = counts[i]!;
    if (c) {
      cum += c;
      sum += c * MIDPOINT_SEC[i]!;
    }
  }
  while (b < BOUND_EXPONENTS.length) out[b++] = cum; // bounds past the buckets given
  out[b++] = cum; // +Inf
  out[b] = sum;
}

/** Adds histogram `b` into `a` (both HIST_SLOTS long): merging shares into "other". */
export function addCounts(a: number[], b: readonly number[]): void {
  for (let i = 0; i < a.length && i < b.length; i++) a[i]! += b[i]!;
}
