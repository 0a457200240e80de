import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "citty";
import { AodError, errorCode, UsageError } from "../util/errors";
import { examples, jsonArg } from "./_shared";

/** A second positional is B when it names an existing file, or looks like one; else it is a COLUMN. */
function looksLikeFile(arg: string): boolean {
  return existsSync(arg) || /\.csv$/i.test(arg) || arg.includes("/");
}

export default defineCommand({
  meta: {
    name: "compare",
    description:
      "Compare measuring CSVs: A = the workload without aod, B = with aod (files of aod monitor or aod disk, or the prototype's). " +
      "Two system-usage files: comparison_graph.png with CPU, memory (and aod's own CPU/RSS) and average/max and impact B−A. " +
      "--ranges: per time range (seconds from each file's first row, START ≤ t < END) average, max, min, sample std, samples and differences, " +
      "range_comparison_<COLUMN>.png. Disk files: disk_usage_plot.png (one) or disk_usage_comparison.png (two), initial/final/growth/max/average. " +
      "Each PNG is also written as SVG. Percent differences are relative to A." +
      examples(
        "aod compare baseline.csv with_aod.csv",
        "aod compare baseline.csv with_aod.csv --ranges 0-200,200-500,500-800",
        "aod compare baseline.csv with_aod.csv CPU_Percent --ranges 0-300,300-600 -o plots/",
        "aod compare disk_usage_20250114_110000.csv",
        "aod compare baseline.csv with_aod.csv --json | jq .columns",
      ),
  },
  args: {
    a: {
      type: "positional",
      required: true,
      description: "CSV of the run without aod (or the only file)",
      valueHint: "A.csv",
    },
    b: { type: "positional", required: false, description: "CSV of the run with aod", valueHint: "B.csv" },
    column: {
      type: "positional",
      required: false,
      description: "Compare only this column (default: CPU and memory, or disk usage)",
      valueHint: "COLUMN",
    },
    ranges: { type: "string", description: "Time ranges in seconds, e.g. 0-200,200-500,500-800", valueHint: "RANGES" },
    output: {
      type: "string",
      alias: "o",
      description: "Directory for the PNG/SVG files (default: the current directory)",
      valueHint: "DIR",
    },
    ...jsonArg,
  },
  async run({ args }) {
    const { loadPerfCsv } = await import("../perf/csv");
    const { analyze } = await import("../perf/compare");
    const { parseRanges } = await import("../perf/ranges");
    const positionals = args._.map(String);
    if (positionals.length > 3) throw new UsageError(`too many arguments: ${positionals.slice(3).join(" ")}`);
    const [, second, third] = positionals;
    let column: string | undefined;
    let bPath: string | undefined;
    if (second !== undefined && looksLikeFile(second)) {
      bPath = second;
      column = third;
    } else {
      if (third !== undefined) throw new UsageError(`${second}: no such file (and a COLUMN can only follow B.csv)`);
      column = second;
    }
    const ranges = args.ranges !== undefined ? parseRanges(args.ranges) : undefined;
    const outDir = args.output || ".";
    if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`-o ${outDir}: not a directory`);

    const a = loadPerfCsv(args.a);
    const b = bPath ? loadPerfCsv(bPath) : undefined;
    const { report, outputs } = analyze(a, b, { column, ranges });

    const { renderFigure } = await import("../perf/plot");
    const files: { path: string; data: string | Uint8Array }[] = [];
    for (const o of outputs) {
      const r = await renderFigure(o.figure);
      files.push(
        { path: join(outDir, `${o.name}.png`), data: r.png },
        { path: join(outDir, `${o.name}.svg`), data: r.svg },
      );
    }
    try {
      mkdirSync(outDir, { recursive: true });
    } catch (e) {
      throw new AodError(`cannot create ${outDir}: ${errorCode(e) ?? e}`, 1);
    }
    const { writeFilesAtomic } = await import("../perf/files");
    writeFilesAtomic(files);
    const written = files.map((f) => f.path);
    if (args.json) {
      console.log(JSON.stringify({ ...report, outputs: written }, null, 2));
    } else {
      const { formatReport } = await import("../perf/report-text");
      console.log(formatReport(report));
      console.log(`\nwrote ${written.join(", ")}`);
    }
  },
});
