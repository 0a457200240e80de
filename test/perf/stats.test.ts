import { describe, expect, test } from "bun:test";
import { loadPerfCsv } from "../../src/perf/csv";
import { parseRanges } from "../../src/perf/ranges";
import { difference, diskSummary, pickRange, summarize } from "../../src/perf/stats";
import { mean, readCsv, sampleStd, shared, sharedMissing } from "./_helpers";

describe("statistics", () => {
  test("hand-computed values: sample std uses n−1", () => {
    const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.samples).toBe(8);
    expect(s.avg).toBe(5);
    expect(s.max).toBe(9);
    expect(s.min).toBe(2);
    // Σ(x−5)² = 32; 32/7
    expect(s.std).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });

  test("missing cells are skipped; one sample has no std; none has nothing", () => {
    expect(summarize([1, NaN, 3])).toEqual({ samples: 2, avg: 2, max: 3, min: 1, std: Math.SQRT2 });
    expect(summarize([7]).std).toBeNull();
    expect(summarize([])).toEqual({ samples: 0, avg: null, max: null, min: null, std: null });
  });

  test("differences are B − A, percent relative to A", () => {
    expect(difference(20, 25)).toEqual({ abs: 5, pct: 25 });
    expect(difference(0, 1)).toEqual({ abs: 1, pct: null });
    expect(difference(null, 1)).toEqual({ abs: null, pct: null });
  });

  test("ranges take START ≤ t < END", () => {
    const t = [0, 1, 2, 3, 4, 5];
    expect(pickRange(t, [10, 11, 12, 13, 14, 15], 2, 4)).toEqual({ t: [2, 3], v: [12, 13] });
    expect(pickRange(t, t, 10, 20)).toEqual({ t: [], v: [] });
  });

  test("disk summary: initial, final, growth, max, average", () => {
    expect(diskSummary([1, 3, 2.5])).toEqual({ samples: 3, initial: 1, final: 2.5, growth: 1.5, max: 3, avg: 6.5 / 3 });
  });

  test.skipIf(!!sharedMissing)("the prototype's file: against values computed here from the raw text", () => {
    const path = shared("system_usage_with_aod.csv");
    const raw = readCsv(path).rows.map((r) => Number(r[1]));
    const s = summarize(loadPerfCsv(path).columns.get("CPU_Percent")!);
    expect(s.samples).toBe(600);
    expect(s.avg!).toBeCloseTo(mean(raw), 9);
    expect(s.max).toBe(Math.max(...raw));
    expect(s.min).toBe(Math.min(...raw));
    expect(s.std!).toBeCloseTo(sampleStd(raw), 9);
  });
});

describe("--ranges", () => {
  test("parsed in order, decimals and spaces allowed", () => {
    expect(parseRanges("0-200, 200-500,500.5-800")).toEqual([
      { start: 0, end: 200, label: "0-200" },
      { start: 200, end: 500, label: "200-500" },
      { start: 500.5, end: 800, label: "500.5-800" },
    ]);
  });

  test("inverted, empty or malformed ranges are usage errors", () => {
    expect(() => parseRanges("500-200")).toThrow(/inverted/);
    expect(() => parseRanges("100-100")).toThrow(/inverted or empty/);
    expect(() => parseRanges("0-100,abc")).toThrow(/malformed range "abc"/);
    expect(() => parseRanges("-5-10")).toThrow(/malformed/);
    expect(() => parseRanges("0-100,")).toThrow(/expected START-END/);
    expect(() => parseRanges("")).toThrow(/expected START-END/);
  });
});
