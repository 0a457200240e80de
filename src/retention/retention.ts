// Keeps the bundle directory bounded: above 90% of max_total_log_size_mb the
// oldest bundles go until at most 50% remains; bundles older than
// max_log_age_days go. Only complete aod bundles are touched; temporary files
// are never deleted here (a collection may be writing them) — except leftovers
// of a crash, removed once at start. Bundles upload has not yet sent
// ("pending") are kept up to twice the age, and by size only after every
// uploaded one is gone: deleting one is logged and counted as abandoned.
import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { TEMP_RE } from "../bundle/names";
import { type BundleInfo, listBundles } from "../bundle/read";
import type { Config } from "../config/validate";
import { log } from "../log";
import { errorCode, errorMessage } from "../util/errors";

export interface RetentionResult {
  deleted: { file: string; why: "size" | "age"; size: number; pending: boolean }[];
  remainingBytes: number;
}

/** Upload's view: is this bundle not uploaded yet? (No upload: nothing is.) */
export type IsPending = (file: string) => boolean;

/** Decides what to delete (pure: for tests and dry runs). */
export function planRetention(
  bundles: BundleInfo[],
  cleanup: Config["cleanup"],
  nowMs: number,
  pending: IsPending = () => false,
): { delete: { b: BundleInfo; why: "size" | "age"; pending: boolean }[]; remainingBytes: number } {
  const maxAgeMs = cleanup.max_log_age_days * 86_400_000;
  const limit = cleanup.max_total_log_size_mb * 1024 * 1024;
  const oldestFirst = [...bundles].sort((a, b) => a.mtimeMs - b.mtimeMs || (a.ns < b.ns ? -1 : 1));
  const del: { b: BundleInfo; why: "size" | "age"; pending: boolean }[] = [];
  const keep: { b: BundleInfo; pending: boolean }[] = [];
  for (const b of oldestFirst) {
    const p = pending(b.file);
    nowMs - b.mtimeMs > (p ? 2 : 1) * maxAgeMs ? del.push({ b, why: "age", pending: p }) : keep.push({ b, pending: p });
  }
  let total = keep.reduce((n, k) => n + k.b.size, 0);
  if (total > 0.9 * limit) {
    // Uploaded (or never to be uploaded) bundles first, oldest first; then pending ones.
    const order = [...keep.filter((k) => !k.pending), ...keep.filter((k) => k.pending)];
    for (const k of order) {
      if (total <= 0.5 * limit) break;
      total -= k.b.size;
      del.push({ b: k.b, why: "size", pending: k.pending });
    }
  }
  return { delete: del, remainingBytes: total };
}

export function runRetention(
  batchesDir: string,
  cleanup: Config["cleanup"],
  nowMs = Date.now(),
  pending?: IsPending,
): RetentionResult {
  const plan = planRetention(listBundles(batchesDir), cleanup, nowMs, pending);
  const deleted: RetentionResult["deleted"] = [];
  for (const { b, why, pending: p } of plan.delete) {
    try {
      unlinkSync(b.path);
      deleted.push({ file: b.file, why, size: b.size, pending: p });
      if (p)
        log.warn("retention deleted a bundle that was not uploaded yet (abandoned)", {
          file: b.file,
          why: why === "age" ? "older than twice max_log_age_days" : "over max_total_log_size_mb",
        });
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
