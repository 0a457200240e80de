// `aod compare`: statistics of one or two measuring CSVs and the figures that
// show them. Pure: reads tables, returns a report and figures; the command
// writes them.
import { basename } from "node:path";
import { UsageError } from "../util/errors";
import { aodColumns, axisTitle, matchColumn, panelTitle, pickColumns } from "./columns";
import type { PerfTable } from "./csv";
import type { Figure, Panel, Series } from "./plot";
import type { TimeRange } from "./ranges";
import {
  type Difference,
  type DiskSummary,
  difference,
  diskSummary,
  pickRange,
  type Summary,
  summarize,
} from "./stats";

export const LABEL_A = "Without AOD";
export const LABEL_B = "With AOD";

export interface Run {
  label: string;
  file: string;
  samples: number;
  /** Seconds from the first to the last row. */
  duration: number;
}

export interface ColumnStats {
  /** The column's name in B where it differs from A's. */
  columnB?: string;
  A: Summary;
  B?: Summary;
  /** B − A of average and maximum; percent relative to A. */
  impact?: { avg: Difference; max: Difference };
}

export interface RangeColumnStats {
  A: Summary;
  B?: Summary;
  diff?: { avg: Difference; max: Difference; min: Difference; std: Difference };
}

export interface RangeStats {
  range: string;
  start: number;
  end: number;
  columns: Record<string, RangeColumnStats>;
}

export type Report =
  | {
      mode: "system";
      runs: Run[];
      columns: Record<string, ColumnStats>;
      aod: Record<string, { run: string; stats: Summary }[]>;
    }
  | { mode: "ranges"; kind: "system" | "disk"; runs: Run[]; ranges: RangeStats[] }
  | {
      mode: "disk";
      runs: Run[];
      column: string;
      disk: { A: DiskSummary; B?: DiskSummary; growthDifference?: Difference };
    };

export interface Output {
  name: string;
  figure: Figure;
}

export interface Analysis {
  report: Report;
  outputs: Output[];
}

const KIND_NAME = { system: "a system-usage file (aod monitor)", disk: "a disk-usage file (aod disk)" };

function runOf(t: PerfTable, label: string): Run {
  const last = t.t.length ? t.t[t.t.length - 1]! : 0;
  return { label, file: t.path, samples: t.t.length, duration: last };
}

/** File-name-safe form of a column name. */
export const fileSafe = (name: string) => name.replace(/[^A-Za-z0-9_.-]+/g, "_");

export function analyze(
  a: PerfTable,
  b: PerfTable | undefined,
  opts: { column?: string; ranges?: TimeRange[] },
): Analysis {
  if (b && a.kind !== b.kind) {
    throw new UsageError(`cannot compare ${a.path}, ${KIND_NAME[a.kind]}, with ${b.path}, ${KIND_NAME[b.kind]}`);
  }
  const labels = b ? [LABEL_A, LABEL_B] : [basename(a.path)];
  const tables = b ? [a, b] : [a];
  const runs = tables.map((t, i) => runOf(t, labels[i]!));
  const cols = pickColumns(a, opts.column);
  const pairs = cols.map((c) => ({ a: c, b: b ? matchColumn(c, b) : undefined }));
  const seriesOf = (col: { a: string; b?: string }): Series[] =>
    tables.map((t, i) => ({ name: labels[i]!, t: t.t, v: t.columns.get(i === 0 ? col.a : col.b!)! }));

  if (opts.ranges) return analyzeRanges(a, b, runs, labels, pairs, opts.ranges);
  if (a.kind === "disk") return analyzeDisk(a, b, runs, pairs[0]!, seriesOf(pairs[0]!));

  const columns: Record<string, ColumnStats> = {};
  const panels: Panel[] = [];
  for (const col of pairs) {
    const A = summarize(a.columns.get(col.a)!);
    const B = b ? summarize(b.columns.get(col.b!)!) : undefined;
    columns[col.a] = {
      ...(col.b && col.b !== col.a ? { columnB: col.b } : {}),
      A,
      ...(B ? { B, impact: { avg: difference(A.avg, B.avg), max: difference(A.max, B.max) } } : {}),
    };
    const series = seriesOf(col);
    panels.push({
      title: panelTitle(col.a),
      yTitle: axisTitle(col.a),
      series,
      rules: [A, B].flatMap((s, i) => (s?.avg != null ? [{ series: labels[i]!, y: s.avg }] : [])),
    });
  }

  // aod's own CPU and RSS, where a run measured them.
  const aod: Record<string, { run: string; stats: Summary }[]> = {};
  const cpuSeries: Series[] = [];
  const rssSeries: Series[] = [];
  const other: Series[] = [];
  tables.forEach((t, i) => {
    const suffix = tables.filter((x) => aodColumns(x).length).length > 1 ? ` (${labels[i]})` : "";
    for (const c of aodColumns(t)) {
      let runs = aod[c];
      if (!runs) {
        runs = [];
        aod[c] = runs;
      }
      runs.push({ run: labels[i]!, stats: summarize(t.columns.get(c)!) });
      const s = { t: t.t, v: t.columns.get(c)! };
      if (/cpu/i.test(c)) cpuSeries.push({ name: `aod CPU${suffix}`, ...s });
      else if (/rss|mem/i.test(c)) rssSeries.push({ name: `aod RSS${suffix}`, ...s });
      else other.push({ name: `${c}${suffix}`, ...s });
    }
  });
  if (cpuSeries.length || rssSeries.length || other.length) {
    const left = cpuSeries.length ? cpuSeries : rssSeries.length ? rssSeries : other;
    const right = left === cpuSeries && rssSeries.length ? rssSeries : undefined;
    panels.push({
      title: "aod's own usage",
      yTitle: left === cpuSeries ? "aod CPU (% of one core)" : left === rssSeries ? "aod RSS (MB)" : "aod",
      series: left,
      ...(right ? { right: { yTitle: "aod RSS (MB)", series: right } } : {}),
    });
  }

  const title = b ? `System usage: ${LABEL_A} vs ${LABEL_B}` : `System usage: ${labels[0]}`;
  return {
    report: { mode: "system", runs, columns, aod },
    outputs: [{ name: "comparison_graph", figure: { title, panels } }],
  };
}

function analyzeDisk(
  a: PerfTable,
  b: PerfTable | undefined,
  runs: Run[],
  col: { a: string; b?: string },
  series: Series[],
): Analysis {
  const A = diskSummary(a.columns.get(col.a)!);
  const B = b ? diskSummary(b.columns.get(col.b!)!) : undefined;
  const title = b ? `aod bundle disk usage: ${LABEL_A} vs ${LABEL_B}` : `aod bundle disk usage: ${runs[0]!.label}`;
  return {
    report: {
      mode: "disk",
      runs,
      column: col.a,
      disk: { A, ...(B ? { B, growthDifference: difference(A.growth, B.growth) } : {}) },
    },
    outputs: [
      {
        name: b ? "disk_usage_comparison" : "disk_usage_plot",
        figure: { title, panels: [{ title: "Disk usage", yTitle: axisTitle(col.a), series }] },
      },
    ],
  };
}

function analyzeRanges(
  a: PerfTable,
  b: PerfTable | undefined,
  runs: Run[],
  labels: string[],
  pairs: { a: string; b?: string }[],
  ranges: TimeRange[],
): Analysis {
  const stats: RangeStats[] = ranges.map((r) => ({ range: r.label, start: r.start, end: r.end, columns: {} }));
  const outputs: Output[] = [];
  for (const col of pairs) {
    const panels: Panel[] = [];
    ranges.forEach((r, ri) => {
      const pa = pickRange(a.t, a.columns.get(col.a)!, r.start, r.end);
      const pb = b ? pickRange(b.t, b.columns.get(col.b!)!, r.start, r.end) : undefined;
      const A = summarize(pa.v);
      const B = pb ? summarize(pb.v) : undefined;
      stats[ri]!.columns[col.a] = {
        A,
        ...(B
          ? {
              B,
              diff: {
                avg: difference(A.avg, B.avg),
                max: difference(A.max, B.max),
                min: difference(A.min, B.min),
                std: difference(A.std, B.std),
              },
            }
          : {}),
      };
      const empty = [A, B].flatMap((s, i) => (s && !s.samples ? [labels[i]!] : []));
      panels.push({
        title: `${r.label} s`,
        yTitle: axisTitle(col.a),
        series: [{ name: labels[0]!, ...pa }, ...(pb ? [{ name: labels[1]!, ...pb }] : [])],
        rules: [A, B].flatMap((s, i) => (s?.avg != null ? [{ series: labels[i]!, y: s.avg }] : [])),
        xDomain: [r.start, r.end],
        ...(empty.length ? { note: `no samples in this range (${empty.join(", ")})` } : {}),
      });
    });
    const who = b ? `${LABEL_A} vs ${LABEL_B}` : labels[0];
    outputs.push({
      name: `range_comparison_${fileSafe(col.a)}`,
      figure: { title: `${col.a} by time range: ${who} (dashed: averages)`, panels },
    });
  }
  return { report: { mode: "ranges", kind: a.kind, runs, ranges: stats }, outputs };
}
