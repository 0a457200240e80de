// Time ranges for `aod compare --ranges`: "0-200,200-500,500-800", seconds
// from each file's first row; a sample at t belongs to START-END when START ≤ t < END.
import { UsageError } from "../util/errors";

export interface TimeRange {
  start: number;
  end: number;
  label: string;
}

const NUM = String.raw`\d+(?:\.\d+)?`;
const RANGE_RE = new RegExp(`^(${NUM})\\s*-\\s*(${NUM})$`);

export function parseRanges(text: string): TimeRange[] {
  const parts = text.split(",").map((p) => p.trim());
  if (!text.trim() || parts.some((p) => p === "")) {
    throw new UsageError(`--ranges "${text}": expected START-END[,START-END...] in seconds, e.g. 0-200,200-500`);
  }
  return parts.map((p) => {
    const m = RANGE_RE.exec(p);
    if (!m) throw new UsageError(`--ranges: malformed range "${p}": expected START-END in seconds, e.g. 0-200`);
    const start = Number(m[1]);
    const end = Number(m[2]);
    if (start >= end) throw new UsageError(`--ranges: range "${p}" is inverted or empty: START must be below END`);
    return { start, end, label: `${m[1]}-${m[2]}` };
  });
}
