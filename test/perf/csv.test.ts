import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadPerfCsv, parsePerfCsv } from "../../src/perf/csv";
import { fileStamp, formatIsoStamp, formatSecondStamp, parseTimestamp } from "../../src/perf/time";
import { AodError } from "../../src/util/errors";
import { LOCAL_FIXTURES, readCsv, shared, sharedMissing } from "./_helpers";

describe("timestamps", () => {
  test("the prototype's monitor style, taken as UTC", () => {
    expect(parseTimestamp("2025-01-14 10:00:00")).toBe(Date.UTC(2025, 0, 14, 10, 0, 0) / 1000);
  });

  test("ISO 8601 with microseconds, no zone (the prototype's disk style)", () => {
    expect(parseTimestamp("2025-01-14T10:00:05.126334")! - Date.UTC(2025, 0, 14, 10, 0, 5) / 1000).toBeCloseTo(
      0.126334,
      6,
    );
  });

  test("ISO 8601 with Z and offsets in every form", () => {
    const utc = Date.UTC(2025, 0, 14, 9, 0, 0) / 1000;
    expect(parseTimestamp("2025-01-14T09:00:00Z")).toBe(utc);
    expect(parseTimestamp("2025-01-14T09:00:00.000Z")).toBe(utc);
    expect(parseTimestamp("2025-01-14T10:00:00+01:00")).toBe(utc);
    expect(parseTimestamp("2025-01-14T10:30:00+0130")).toBe(utc);
    expect(parseTimestamp("2025-01-14T04:00:00-05")).toBe(utc);
  });

  test("not timestamps", () => {
    for (const s of [
      "",
      "yesterday",
      "2025-13-01 00:00:00",
      "2025-01-14",
      "14/01/2025 10:00:00",
      "2025-01-14 25:00:00",
    ]) {
      expect(parseTimestamp(s)).toBeUndefined();
    }
  });

  test("what aod writes is UTC and reads back", () => {
    const d = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678));
    expect(formatSecondStamp(d)).toBe("2025-01-02 03:04:05");
    expect(fileStamp(d)).toBe("20250102_030405");
    expect(formatIsoStamp(d)).toBe("2025-01-02T03:04:05.678Z");
    expect(parseTimestamp(formatIsoStamp(d))).toBeCloseTo(d.getTime() / 1000, 6);
  });
});

describe("CSV files", () => {
  test("ISO timestamps with fractions and zones, CRLF, empty aod cells", () => {
    const t = loadPerfCsv(join(LOCAL_FIXTURES, "iso_zones_with_aod.csv"));
    expect(t.kind).toBe("system");
    expect(t.timeColumn).toBe("Timestamp");
    expect(Array.from(t.t)).toEqual([0, 1.5, 3, 4]);
    expect(Array.from(t.columns.get("CPU_Percent")!)).toEqual([10, 20, 30, 40]);
    expect(Array.from(t.columns.get("AOD_RSS_MB")!)).toEqual([40, NaN, 42, 41.5]);
  });

  test.skipIf(!!sharedMissing)("the prototype's system-usage file (CRLF, second timestamps)", () => {
    const path = shared("system_usage_baseline.csv");
    expect(readFileSync(path, "latin1")).toContain("\r\n");
    const t = loadPerfCsv(path);
    const ref = readCsv(path);
    expect(t.kind).toBe("system");
    expect(t.header).toEqual(["Timestamp", "CPU_Percent", "Memory_Percent"]);
    expect(t.t.length).toBe(ref.rows.length);
    expect(t.t[0]).toBe(0);
    expect(t.t[t.t.length - 1]).toBe(599);
    expect(t.columns.get("Memory_Percent")![10]).toBe(Number(ref.rows[10]![2]));
  });

  test.skipIf(!!sharedMissing)("the prototype's disk-usage file (ISO with microseconds)", () => {
    const t = loadPerfCsv(shared("disk_usage_with_aod.csv"));
    expect(t.kind).toBe("disk");
    expect(t.t.length).toBe(120);
    // 2025-01-14T11:00:00.654321 → 11:00:05.654915
    expect(t.t[1]).toBeCloseTo(5.000594, 6);
    expect(t.columns.get("Disk_Usage_MB")![119]).toBeCloseTo(0.32666492311912587, 12);
  });

  test("a trailing newline and a BOM are fine; LF alone too", () => {
    const t = parsePerfCsv(
      "\uFEFFTimestamp,Disk_Usage_MB\n2025-01-14T10:00:00,1.5\n2025-01-14T10:00:05,2\n\n",
      "x.csv",
    );
    expect(t.kind).toBe("disk");
    expect(Array.from(t.t)).toEqual([0, 5]);
  });

  const fails = (text: string, message: RegExp) => {
    let err: unknown;
    try {
      parsePerfCsv(text, "f.csv");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AodError);
    expect((err as AodError).exitCode).toBe(2);
    expect((err as AodError).message).toMatch(message);
  };

  test("bad input names the file and line", () => {
    fails("", /^f\.csv: empty file$/);
    fails("\r\n\r\n", /^f\.csv: empty file$/);
    fails("Timestamp,Foo\r\n2025-01-14 10:00:00,1\r\n", /^f\.csv: no usable columns/);
    fails("Timestamp,CPU_Percent\r\n", /^f\.csv: no data rows/);
    fails(
      "Timestamp,CPU_Percent\r\n2025-01-14 10:00:00,1\r\nnot a time,2\r\n",
      /^f\.csv:3: cannot parse timestamp "not a time"/,
    );
    fails("Timestamp,CPU_Percent\r\n2025-01-14 10:00:00,abc\r\n", /^f\.csv:2: CPU_Percent value "abc" is not a number/);
    fails(
      "Timestamp,CPU_Percent\r\n2025-01-14 10:00:00,1,2\r\n",
      /^f\.csv:2: expected 2 fields as in the header, found 3/,
    );
    fails("Timestamp,CPU_Percent\r\n2025-01-14 10:00:00,1\r\n\r\n2025-01-14 10:00:01,1\r\n", /^f\.csv:3: empty row/);
  });

  test("missing file and a directory given as file", () => {
    expect(() => loadPerfCsv("/nonexistent/x.csv")).toThrow("/nonexistent/x.csv: no such file");
    expect(() => loadPerfCsv(LOCAL_FIXTURES)).toThrow("is a directory");
  });
});
