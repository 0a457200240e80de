// The text form of an `aod compare` report: tables for a terminal.
import type { Report, Run } from "./compare";
import { type Difference, difference, type Summary } from "./stats";

const num = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? "-" : x.toFixed(digits));
const signed = (x: number | null, digits = 2) => (x === null ? "-" : `${x >= 0 ? "+" : ""}${x.toFixed(digits)}`);
const diff = (d: Difference | undefined, digits = 2) =>
  !d || d.abs === null ? "-" : `${signed(d.abs, digits)}${d.pct === null ? "" : ` (${signed(d.pct, 1)}%)`}`;

/** Columns padded to their widest cell; the first column left-aligned, the rest right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const runLine = (r: Run, tag: string) =>
  `${tag} = ${r.file}: ${r.label}, ${r.samples} samples over ${r.duration.toFixed(0)} s`;

function runs(rs: Run[]): string {
  return rs.map((r, i) => runLine(r, "AB"[i]!)).join("\n");
}

const summaryRow = (name: string, s: Summary, digits = 2) => [
  name,
  String(s.samples),
  num(s.avg, digits),
  num(s.max, digits),
  num(s.min, digits),
  num(s.std, digits),
];

type SystemReport = Extract<Report, { mode: "system" }>;
type DiskReport = Extract<Report, { mode: "disk" }>;
type RangeReport = Exclude<Report, SystemReport | DiskReport>;

export function formatReport(report: Report): string {
  const body =
    report.mode === "system" ? systemTables(report) : report.mode === "disk" ? diskTable(report) : rangeTables(report);
  return [runs(report.runs), "", ...body].join("\n");
}

/** `aod monitor` CSVs: each column's avg and max, with the impact B−A; aod's own usage. */
function systemTables(report: SystemReport): string[] {
  const two = report.runs.length > 1;
  const head = two
    ? ["column", "A avg", "A max", "B avg", "B max", "impact avg (B−A)", "impact max (B−A)"]
    : ["column", "avg", "max"];
  const rows = Object.entries(report.columns).map(([name, c]) =>
    two
      ? [name, num(c.A.avg), num(c.A.max), num(c.B?.avg), num(c.B?.max), diff(c.impact?.avg), diff(c.impact?.max)]
      : [name, num(c.A.avg), num(c.A.max)],
  );
  const out = [table([head, ...rows])];
  const aod = Object.entries(report.aod);
  if (aod.length)
    out.push(
      "",
      "aod's own usage:",
      table([
        ["column", "run", "samples", "avg", "max"],
        ...aod.flatMap(([name, per]) =>
          per.map((p) => [name, p.run, String(p.stats.samples), num(p.stats.avg), num(p.stats.max)]),
        ),
      ]),
    );
  return out;
}

/** `aod disk` CSVs: initial, final, growth, max and average size in MB. */
function diskTable(report: DiskReport): string[] {
  const d = report.disk;
  const head = ["MB", report.runs[0]!.label, ...(d.B ? [report.runs[1]!.label, "B−A"] : [])];
  const keys = ["initial", "final", "growth", "max", "avg"] as const;
  const out = [
    table([
      head,
      ...keys.map((k) => [
        k === "avg" ? "average" : k,
        num(d.A[k], 3),
        ...(d.B ? [num(d.B[k], 3), signed(difference(d.A[k], d.B[k]).abs, 3)] : []),
      ]),
    ]),
  ];
  if (d.growthDifference) out.push("", `difference in growth (B−A): ${diff(d.growthDifference, 3)} MB`);
  return out;
}

/** The prototype's CSVs: per time range, each column's statistics per run and their difference; then a summary. */
function rangeTables(report: RangeReport): string[] {
  const two = report.runs.length > 1;
  const digits = report.kind === "disk" ? 3 : 2;
  const out: string[] = [];
  for (const r of report.ranges) {
    out.push(`Range ${r.range} s`);
    for (const [name, c] of Object.entries(r.columns)) {
      const rows = [
        [`  ${name}`, "samples", "avg", "max", "min", "std"],
        summaryRow(`    ${report.runs[0]!.label}`, c.A, digits),
      ];
      if (c.B) rows.push(summaryRow(`    ${report.runs[1]!.label}`, c.B, digits));
      if (c.diff) {
        const d = c.diff;
        rows.push(["    difference (B−A)", "", ...[d.avg, d.max, d.min, d.std].map((x) => diff(x, digits))]);
      }
      out.push(table(rows));
      const empty = [c.A, c.B].flatMap((s, i) => (s && !s.samples ? [report.runs[i]!.label] : []));
      if (empty.length) out.push(`    no samples in this range for ${empty.join(" and ")}`);
    }
    out.push("");
  }
  out.push(
    "Summary:",
    table([
      two ? ["range", "column", "A avg", "B avg", "avg diff (B−A)"] : ["range", "column", "samples", "avg"],
      ...report.ranges.flatMap((r) =>
        Object.entries(r.columns).map(([name, c]) =>
          two
            ? [`${r.range} s`, name, num(c.A.avg, digits), num(c.B?.avg, digits), diff(c.diff?.avg, digits)]
            : [`${r.range} s`, name, String(c.A.samples), num(c.A.avg, digits)],
        ),
      ),
    ]),
  );
  return out;
}
