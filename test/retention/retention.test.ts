import { describe, expect, test } from "bun:test";
import { readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureOutputDir } from "../../src/bundle/output-dir";
import type { BundleInfo } from "../../src/bundle/read";
import { planRetention, removeLeftovers, runRetention } from "../../src/retention/retention";
import { tempDir } from "../helpers";

const MB = 1024 * 1024;
const now = Date.parse("2026-11-26T12:00:00Z");
const bundle = (ns: number, sizeMb: number, ageH = 0): BundleInfo => ({
  path: `/x/${ns}`,
  file: `aod_quick_${ns}.tar.zst`,
  ns: BigInt(ns),
  time: "",
  size: sizeMb * MB,
  mtimeMs: now - ageH * 3600e3 - (1000 - ns),
});

describe("retention plan", () => {
  const cleanup = { cleanup_interval_sec: 60, max_log_age_days: 2, max_total_log_size_mb: 10 };
  test("nothing happens at or below 90% of the limit", () => {
    expect(planRetention([bundle(1, 3), bundle(2, 3), bundle(3, 3)], cleanup, now).delete).toEqual([]);
  });
  test("above 90%: oldest first until at most 50% remains", () => {
    const p = planRetention([bundle(3, 2), bundle(1, 3), bundle(2, 3), bundle(4, 2)], cleanup, now); // 10 MB > 9
    expect(p.delete.map((d) => [Number(d.b.ns), d.why])).toEqual([
      [1, "size"],
      [2, "size"],
    ]);
    expect(p.remainingBytes).toBe(4 * MB);
  });
  test("bundles older than max_log_age_days go, whatever the size", () => {
    const p = planRetention([bundle(1, 0.1, 49), bundle(2, 0.1, 47)], cleanup, now);
    expect(p.delete.map((d) => [Number(d.b.ns), d.why])).toEqual([[1, "age"]]);
  });
});

describe("retention with bundles not uploaded yet", () => {
  const cleanup = { cleanup_interval_sec: 60, max_log_age_days: 2, max_total_log_size_mb: 10 };
  const pending =
    (...ns: number[]) =>
    (f: string) =>
      ns.some((n) => f === `aod_quick_${n}.tar.zst`);
  test("a pending bundle is kept up to twice max_log_age_days, then deleted as pending", () => {
    const p = planRetention([bundle(1, 0.1, 49), bundle(2, 0.1, 97)], cleanup, now, pending(1, 2));
    expect(p.delete.map((d) => [Number(d.b.ns), d.why, d.pending])).toEqual([[2, "age", true]]);
  });
  test("over the size cap uploaded bundles go first, pending ones only if still needed", () => {
    // 12 MB > 9: down to 5 MB. 1 and 2 are pending (oldest), 3 and 4 uploaded.
    const p = planRetention([bundle(1, 3), bundle(2, 3), bundle(3, 3), bundle(4, 3)], cleanup, now, pending(1, 2));
    expect(p.delete.map((d) => [Number(d.b.ns), d.pending])).toEqual([
      [3, false],
      [4, false],
      [1, true],
    ]);
  });
});

describe("retention on disk", () => {
  test("deletes only complete aod bundles; temporary files stay until start-up cleanup", () => {
    const dir = ensureOutputDir(tempDir());
    const files = ["aod_quick_1.tar.zst", "aod_quick_2.tar.zst", ".aod_quick_3.tar.zst.99.tmp", "user-notes.txt"];
    for (const f of files) writeFileSync(join(dir, f), Buffer.alloc(MB));
    const old = (now - 3 * 86400e3) / 1000;
    for (const f of files) utimesSync(join(dir, f), old, old);
    const r = runRetention(dir, { cleanup_interval_sec: 60, max_log_age_days: 2, max_total_log_size_mb: 100 }, now);
    expect(r.deleted.map((d) => d.file).sort()).toEqual(["aod_quick_1.tar.zst", "aod_quick_2.tar.zst"]);
    expect(readdirSync(dir).sort()).toEqual([".aod_quick_3.tar.zst.99.tmp", "user-notes.txt"]);
    expect(removeLeftovers(dir)).toBe(1);
    expect(readdirSync(dir)).toEqual(["user-notes.txt"]);
  });
});
