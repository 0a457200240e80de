// Descriptive statistics of one column (NaN cells skipped) and differences
// between runs. Standard deviation is the sample one (n−1), as pandas computes.

export interface Summary {
  samples: number;
  avg: number | null;
  max: number | null;
  min: number | null;
  /** Sample standard deviation; null below two samples. */
  std: number | null;
}

export function summarize(values: ArrayLike<number>): Summary {
  let n = 0;
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    n++;
    sum += v;
    if (v > max) max = v;
    if (v < min) min = v;
  }
  if (!n) return { samples: 0, avg: null, max: null, min: null, std: null };
  const avg = sum / n;
  let sq = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) sq += (v - avg) ** 2;
  }
  return { samples: n, avg, max, min, std: n > 1 ? Math.sqrt(sq / (n - 1)) : null };
}

export interface Difference {
  /** b − a */
  abs: number | null;
  /** (b − a) / a × 100; null when a is 0 or either side is missing. */
  pct: number | null;
}

export function difference(a: number | null, b: number | null): Difference {
  if (a === null || b === null) return { abs: null, pct: null };
  return { abs: b - a, pct: a !== 0 ? ((b - a) / a) * 100 : null };
}

/** The samples with start ≤ t < end (times need not be sorted). */
export function pickRange(
  t: ArrayLike<number>,
  values: ArrayLike<number>,
  start: number,
  end: number,
): { t: number[]; v: number[] } {
  const out = { t: [] as number[], v: [] as number[] };
  for (let i = 0; i < t.length; i++) {
    if (t[i]! >= start && t[i]! < end) {
      out.t.push(t[i]!);
      out.v.push(values[i]!);
    }
  }
  return out;
}

export interface DiskSummary {
  samples: number;
  initial: number | null;
  final: number | null;
  growth: number | null;
  max: number | null;
  avg: number | null;
}

export function diskSummary(values: ArrayLike<number>): DiskSummary {
  const present: number[] = [];
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]!)) present.push(values[i]!);
  const s = summarize(present);
  const initial = present.length ? present[0]! : null;
  const final = present.length ? present[present.length - 1]! : null;
  return {
    samples: s.samples,
    initial,
    final,
    growth: initial !== null && final !== null ? final - initial : null,
    max: s.max,
    avg: s.avg,
  };
}
