// Keeps the bundle directory bounded: above 90% of max_total_log_size_mb the
// oldest bundles go until at most 50% remains; bundles older than
// max_log_age_days go. Only complete aod bundles are touched; temporary files
// are never deleted here (a collection may be writing them) — except leftovers
// of a crash, removed once at start.
import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { TEMP_RE } from "../bundle/names";
import { type BundleInfo, listBundles } from "../bundle/read";
import type { Config } from "../config/validate";
import { log } from "../log";
import { errorCode, errorMessage } from "../util/errors";

export interface RetentionResult {
  deleted: { file: string; why: "size" | "age"; size: number }[];
  remainingBytes: number;
}

/** Decides what to delete (pure: for tests and dry runs). */
export function planRetention(
  bundles: BundleInfo[],
  cleanup: Config["cleanup"],
  nowMs: number,
): { delete: { b: BundleInfo; why: "size" | "age" }[]; remainingBytes: number } {
  const maxAgeMs = cleanup.max_log_age_days * 86_400_000;
  const limit = cleanup.max_total_log_size_mb * 1024 * 1024;
  const oldestFirst = [...bundles].sort((a, b) => a.mtimeMs - b.mtimeMs || (a.ns < b.ns ? -1 : 1));
  const del: { b: BundleInfo; why: "size" | "age" }[] = [];
  const keep: BundleInfo[] = [];
  for (const b of oldestFirst) nowMs - b.mtimeMs > maxAgeMs ? del.push({ b, why: "age" }) : keep.push(b);
  let total = keep.reduce((n, b) => n + b.size, 0);
  if (total > 0.9 * limit) {
    while (keep.length && total > 0.5 * limit) {
      const b = keep.shift()!;
      total -= b.size;
      del.push({ b, why: "size" });
    }
  }
  return { delete: del, remainingBytes: total };
}

export function runRetention(batchesDir: string, cleanup: Config["cleanup"], nowMs = Date.now()): RetentionResult {
  const plan = planRetention(listBundles(batchesDir), cleanup, nowMs);
  const deleted: RetentionResult["deleted"] = [];
  for (const { b, why } of plan.delete) {
    try {
      unlinkSync(b.path);
      deleted.push({ file: b.file, why, size: b.size });
    } catch (e) {
      if (errorCode(e) !== "ENOENT")
        log.warn("retention: cannot delete bundle", { file: b.file, error: errorMessage(e) });
    }
  }
  if (deleted.length)
    log.info("retention deleted bundles", {
      count: deleted.length,
      by_size: deleted.filter((d) => d.why === "size").length,
      by_age: deleted.filter((d) => d.why === "age").length,
      remaining_mb: +(plan.remainingBytes / 1048576).toFixed(2),
    });
  return { deleted, remainingBytes: plan.remainingBytes };
}

/** Removes temporary bundle files a crashed run left behind. */
export function removeLeftovers(batchesDir: string): number {
  let n = 0;
  for (const f of readdirSync(batchesDir)) {
    if (!TEMP_RE.test(f)) continue;
    try {
      unlinkSync(join(batchesDir, f));
      n++;
    } catch {}
  }
  if (n) log.info("removed leftover temporary bundle files from an earlier run", { count: n });
  return n;
}
