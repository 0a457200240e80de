// `aod compare` through the compiled binary, run from a temporary directory so
// the embedded wasm and font are what it uses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RangeStats, Run } from "../../src/perf/compare";
import {
  aod,
  binaryMissing,
  LOCAL_FIXTURES,
  mean,
  pngSize,
  readCsv,
  sampleStd,
  shared,
  sharedMissing,
} from "./_helpers";

const noBinary = binaryMissing();
const skipShared = !!noBinary || !!sharedMissing;
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "aod-compare-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const out = (name: string) => join(dir, name);

/** Seconds since the first row, for the prototype's `YYYY-MM-DD HH:MM:SS` files. */
function relSeconds(rows: string[][]): number[] {
  const at = (s: string) => Date.parse(`${s.replace(" ", "T")}Z`) / 1000;
  const t0 = at(rows[0]![0]!);
  return rows.map((r) => at(r[0]!) - t0);
}

function column(path: string, name: string): { t: number[]; v: number[] } {
  const { header, rows } = readCsv(path);
  const i = header.indexOf(name);
  return { t: relSeconds(rows), v: rows.map((r) => Number(r[i])) };
}

function expectPng(path: string, width: number, height: number) {
  expect(pngSize(path)).toEqual({ width, height });
  const svg = readFileSync(path.replace(/\.png$/, ".svg"), "utf8");
  expect(svg.startsWith(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"`)).toBe(true);
}

describe.skipIf(skipShared)("aod compare on the prototype's files", () => {
  test("two system-usage files: averages, maxima, impact B − A; comparison_graph.png 1200×600", () => {
    const a = shared("system_usage_baseline.csv");
    const b = shared("system_usage_with_aod.csv");
    const r = aod(["compare", a, b, "-o", out("sys"), "--json"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.mode).toBe("system");
    expect(j.runs.map((x: Run) => x.label)).toEqual(["Without AOD", "With AOD"]);
    for (const col of ["CPU_Percent", "Memory_Percent"]) {
      const va = column(a, col).v;
      const vb = column(b, col).v;
      const c = j.columns[col];
      expect(c.A.avg).toBeCloseTo(mean(va), 9);
      expect(c.B.avg).toBeCloseTo(mean(vb), 9);
      expect(c.A.max).toBe(Math.max(...va));
      expect(c.B.max).toBe(Math.max(...vb));
      expect(c.impact.avg.abs).toBeCloseTo(mean(vb) - mean(va), 9);
      expect(c.impact.avg.pct).toBeCloseTo(((mean(vb) - mean(va)) / mean(va)) * 100, 9);
    }
    expect(j.outputs).toEqual([out("sys/comparison_graph.png"), out("sys/comparison_graph.svg")]);
    expectPng(out("sys/comparison_graph.png"), 1200, 600);
  });

  test("text output: a table, and the files written to the current directory by default", () => {
    const cwd = mkdtempSync(join(dir, "cwd-"));
    const r = aod(["compare", shared("system_usage_baseline.csv"), shared("system_usage_with_aod.csv")], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^CPU_Percent\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d\s+[+-]\d+\.\d\d \([+-]\d+\.\d%\)/m,
    );
    expect(r.stdout).toContain("wrote comparison_graph.png, comparison_graph.svg");
    expect(readdirSync(cwd).sort()).toEqual(["comparison_graph.png", "comparison_graph.svg"]);
    expectPng(join(cwd, "comparison_graph.png"), 1200, 600);
  });

  test("--ranges: per range avg/max/min/std/samples and differences, one PNG per column", () => {
    const a = shared("system_usage_baseline.csv");
    const b = shared("system_usage_with_aod.csv");
    const r = aod(["compare", a, b, "--ranges", "0-200,200-500,500-800", "-o", out("ranges"), "--json"], { cwd: dir });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.mode).toBe("ranges");
    expect(j.ranges.map((x: RangeStats) => x.range)).toEqual(["0-200", "200-500", "500-800"]);
    for (const rg of j.ranges) {
      for (const col of ["CPU_Percent", "Memory_Percent"]) {
        const pick = (p: string) => {
          const { t, v } = column(p, col);
          return v.filter((_, i) => t[i]! >= rg.start && t[i]! < rg.end);
        };
        const [va, vb] = [pick(a), pick(b)];
        const c = rg.columns[col];
        expect(c.A.samples).toBe(va.length);
        expect(c.B.samples).toBe(vb.length);
        expect(c.A.avg).toBeCloseTo(mean(va), 9);
        expect(c.A.min).toBe(Math.min(...va));
        expect(c.B.max).toBe(Math.max(...vb));
        expect(c.A.std).toBeCloseTo(sampleStd(va), 9);
        expect(c.B.std).toBeCloseTo(sampleStd(vb), 9);
        expect(c.diff.avg.abs).toBeCloseTo(mean(vb) - mean(va), 9);
        expect(c.diff.avg.pct).toBeCloseTo(((mean(vb) - mean(va)) / mean(va)) * 100, 9);
        expect(c.diff.max.abs).toBeCloseTo(Math.max(...vb) - Math.max(...va), 9);
      }
    }
    expect(j.ranges.map((x: RangeStats) => x.columns.CPU_Percent!.A.samples)).toEqual([200, 300, 100]);
    expectPng(out("ranges/range_comparison_CPU_Percent.png"), 1200, 870);
    expectPng(out("ranges/range_comparison_Memory_Percent.png"), 1200, 870);
  });

  test("a named COLUMN and a range without samples", () => {
    const r = aod(
      [
        "compare",
        shared("system_usage_baseline.csv"),
        shared("system_usage_with_aod.csv"),
        "memory_percent",
        "--ranges",
        "0-100,700-800",
        "-o",
        out("col"),
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Range 700-800 s");
    expect(r.stdout).toContain("no samples in this range for Without AOD and With AOD");
    expect(readdirSync(out("col")).sort()).toEqual([
      "range_comparison_Memory_Percent.png",
      "range_comparison_Memory_Percent.svg",
    ]);
    expectPng(out("col/range_comparison_Memory_Percent.png"), 1200, 600);
  });

  test("two disk files: initial, final, growth, max, average and the growth difference", () => {
    const a = shared("disk_usage_baseline.csv");
    const b = shared("disk_usage_with_aod.csv");
    const r = aod(["compare", a, b, "-o", out("disk"), "--json"], { cwd: dir });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const vb = readCsv(b).rows.map((x) => Number(x[1]));
    const va = readCsv(a).rows.map((x) => Number(x[1]));
    expect(j.mode).toBe("disk");
    expect(j.disk.B.initial).toBe(vb[0]);
    expect(j.disk.B.final).toBe(vb[vb.length - 1]);
    expect(j.disk.B.growth).toBeCloseTo(vb[vb.length - 1]! - vb[0]!, 12);
    expect(j.disk.B.max).toBe(Math.max(...vb));
    expect(j.disk.B.avg).toBeCloseTo(mean(vb), 12);
    expect(j.disk.growthDifference.abs).toBeCloseTo(vb[vb.length - 1]! - vb[0]! - (va[va.length - 1]! - va[0]!), 12);
    expectPng(out("disk/disk_usage_comparison.png"), 1200, 330);
  });

  test("one disk file: disk_usage_plot.png", () => {
    const r = aod(["compare", shared("disk_usage_with_aod.csv"), "-o", out("disk1")], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^growth\s+0\.327$/m);
    expectPng(out("disk1/disk_usage_plot.png"), 1200, 330);
  });
});

describe.skipIf(!!noBinary)("aod compare", () => {
  test("aod's own columns get a third panel and their statistics", () => {
    const a = out("no_aod.csv");
    writeFileSync(
      a,
      "Timestamp,CPU_Percent,Memory_Percent\r\n2025-01-14 10:00:00,5.0,30.0\r\n2025-01-14 10:00:01,7.0,30.5\r\n2025-01-14 10:00:02,9.0,31.0\r\n",
    );
    const r = aod(["compare", a, join(LOCAL_FIXTURES, "iso_zones_with_aod.csv"), "-o", out("aod"), "--json"], {
      cwd: dir,
    });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.columns.CPU_Percent.A.avg).toBe(7);
    expect(j.columns.CPU_Percent.B.avg).toBe(25);
    expect(j.columns.CPU_Percent.impact.avg).toEqual({ abs: 18, pct: (18 / 7) * 100 });
    // One empty AOD cell: three samples.
    expect(j.aod.AOD_RSS_MB).toEqual([
      {
        run: "With AOD",
        stats: { samples: 3, avg: 41.166666666666664, max: 42, min: 40, std: j.aod.AOD_RSS_MB[0].stats.std },
      },
    ]);
    expect(j.aod.AOD_RSS_MB[0].stats.std).toBeCloseTo(sampleStd([40, 42, 41.5]), 12);
    expect(j.aod.AOD_CPU_Percent[0].stats.max).toBe(3);
    expectPng(out("aod/comparison_graph.png"), 1200, 870);
  });

  test("two 10 000-row files compare in well under the time limit", { timeout: 30_000 }, () => {
    const rows = (base: number) => {
      const lines = ["Timestamp,CPU_Percent,Memory_Percent"];
      const t0 = Date.UTC(2025, 0, 14, 10);
      for (let i = 0; i < 10_000; i++) {
        const s = new Date(t0 + i * 1000).toISOString().replace("T", " ").slice(0, 19);
        lines.push(`${s},${(base + 10 * Math.sin(i / 50)).toFixed(1)},${(30 + Math.cos(i / 70)).toFixed(1)}`);
      }
      return `${lines.join("\r\n")}\r\n`;
    };
    writeFileSync(out("big_a.csv"), rows(20));
    writeFileSync(out("big_b.csv"), rows(22));
    const start = performance.now();
    const r = aod(["compare", out("big_a.csv"), out("big_b.csv"), "-o", out("big")], { cwd: dir });
    const ms = performance.now() - start;
    console.log(`aod compare, two 10 000-row files: ${ms.toFixed(0)} ms`);
    expect(r.code).toBe(0);
    expectPng(out("big/comparison_graph.png"), 1200, 600);
    expect(ms).toBeLessThan(5000); // ~0.6 s on 2 cores; generous for a loaded CI machine
  });

  describe("bad input: one message, exit 2, no output", () => {
    const bad = (name: string, text: string) => {
      const p = out(name);
      writeFileSync(p, text);
      return p;
    };
    const good = () =>
      bad(
        "good.csv",
        "Timestamp,CPU_Percent,Memory_Percent\r\n2025-01-14 10:00:00,5.0,30.0\r\n2025-01-14 10:00:01,6.0,30.0\r\n",
      );
    const disk = () => bad("disk.csv", "Timestamp,Disk_Usage_MB\r\n2025-01-14T10:00:00.000001,0.5\r\n");
    const cases: [string, () => string[], RegExp][] = [
      ["missing file", () => [out("nope.csv")], /nope\.csv: no such file$/],
      ["missing B", () => [good(), out("nope.csv")], /nope\.csv: no such file$/],
      ["unreadable file (a directory)", () => [dir], /is a directory, not a CSV file$/],
      ["empty file", () => [bad("empty.csv", "")], /empty\.csv: empty file$/],
      [
        "no usable columns",
        () => [bad("cols.csv", "Timestamp,Foo,Bar\r\n2025-01-14 10:00:00,1,2\r\n")],
        /cols\.csv: no usable columns/,
      ],
      [
        "only aod's own columns",
        () => [bad("own.csv", "Timestamp,AOD_CPU_Percent\r\n2025-01-14 10:00:00,1\r\n")],
        /own\.csv: no usable columns/,
      ],
      [
        "unparsable row",
        () => [
          good(),
          bad(
            "row.csv",
            "Timestamp,CPU_Percent,Memory_Percent\r\n2025-01-14 10:00:00,1,2\r\n2025-01-14 10:00:01,1,2\r\n2025-01-14 10:00:02,oops,2\r\n",
          ),
        ],
        /row\.csv:4: CPU_Percent value "oops" is not a number$/,
      ],
      [
        "unparsable timestamp",
        () => [bad("ts.csv", "Timestamp,CPU_Percent\r\n14.01.2025,1\r\n")],
        /ts\.csv:2: cannot parse timestamp "14\.01\.2025"/,
      ],
      [
        "disk vs system",
        () => [disk(), good()],
        /cannot compare .*disk\.csv, a disk-usage file \(aod disk\), with .*good\.csv, a system-usage file/,
      ],
      ["inverted range", () => [good(), good(), "--ranges", "0-100,300-200"], /range "300-200" is inverted/],
      ["malformed range", () => [good(), "--ranges", "0:100"], /malformed range "0:100"/],
      ["unknown column", () => [good(), good(), "Swap"], /no column "Swap" \(columns: CPU_Percent, Memory_Percent\)$/],
    ];
    for (const [what, args, message] of cases) {
      test(what, () => {
        const o = out(`bad-${what.replace(/\W+/g, "_")}`);
        const r = aod(["compare", ...args(), "-o", o], { cwd: dir });
        expect(r.code).toBe(2);
        expect(r.stdout).toBe("");
        const lines = r.stderr.trim().split("\n");
        expect(lines.length).toBe(1);
        expect(lines[0]).toStartWith("aod: ");
        expect(lines[0]).toMatch(message);
        expect(existsSync(o)).toBe(false);
      });
    }
  });
});
