// Lists and opens bundles without unpacking them by hand.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ActionResult } from "../actions/run";
import type { EventLine } from "../format/event";
import { zstdDecompress } from "../native/zstd";
import { errorCode, errorMessage } from "../util/errors";
import { BUNDLE_RE } from "./names";

export interface BundleInfo {
  path: string;
  file: string;
  ns: bigint;
  time: string;
  size: number;
  mtimeMs: number;
}

/** Complete bundles in a batches dir, newest first. */
export function listBundles(batchesDir: string): BundleInfo[] {
  let names: string[];
  try {
    names = readdirSync(batchesDir);
  } catch (e) {
    if (errorCode(e) === "ENOENT") return [];
    throw e;
  }
  const out: BundleInfo[] = [];
  for (const file of names) {
    const m = BUNDLE_RE.exec(file);
    if (!m) continue;
    try {
      const st = statSync(join(batchesDir, file));
      const ns = BigInt(m[1]!);
      out.push({
        path: join(batchesDir, file),
        file,
        ns,
        time: new Date(Number(ns / 1_000_000n)).toISOString(),
        size: st.size,
        mtimeMs: st.mtimeMs,
      });
    } catch {} // removed meanwhile
  }
  return out.sort((a, b) => (a.ns < b.ns ? 1 : a.ns > b.ns ? -1 : 0));
}

/**
 * anomaly.json (written by ./anomaly-json.ts) as JSON.parse gives it back:
 * bigints as numbers. Every field may be missing: a field whose value was
 * undefined is left out, and a bundle may come from another aod version.
 */
export interface AnomalyJson {
  type?: string;
  name?: string;
  detected_at?: string;
  detected_at_ns?: number;
  collected_at?: string;
  reason?: string;
  window_sec?: number;
  /** The anomaly type's own (latency: threshold_ms per command). */
  thresholds?: Record<string, unknown>;
  counts?: { in_window?: number; triggers?: number };
  repeats_during_cooldown?: { detections?: number; events?: number; note?: string };
  triggers?: (Omit<EventLine, "time_ns" | "mid"> & { time_ns: number; mid?: number })[];
  actions?: Omit<ActionResult, "data">[];
  lost_events?: Record<string, number>;
  latency_since_attach?: { command: string; count: number; p50_ms: number; p99_ms: number }[];
  dropped_collections?: number;
  host?: string;
  kernel?: string;
  aod_version?: string;
  /** The config in effect, as a file would hold it. */
  config?: Record<string, unknown>;
}

export interface OpenedBundle {
  members: { name: string; size: number }[];
  anomaly?: AnomalyJson;
  files: Map<string, File>;
}

export async function openBundle(path: string): Promise<OpenedBundle> {
  const tar = zstdDecompress(readFileSync(path));
  const files = await new Bun.Archive(tar).files();
  const members = [...files.entries()].map(([name, f]) => ({ name, size: f.size }));
  const a = files.get("anomaly.json");
  return { members, anomaly: a ? (JSON.parse(await a.text()) as AnomalyJson) : undefined, files };
}

/**
 * Every member's bytes, in archive order. Throws when the file cannot be read
 * or is not a zstd-compressed tar.
 */
export async function readMembers(path: string): Promise<Map<string, Uint8Array>> {
  const raw = readFileSync(path);
  if (raw.length === 0) throw new Error("the file is empty");
  let tar: Uint8Array;
  try {
    tar = zstdDecompress(raw);
  } catch (e) {
    throw new Error(`not zstd-compressed (${errorMessage(e)})`);
  }
  let files: Map<string, File>;
  try {
    files = await new Bun.Archive(tar).files();
  } catch (e) {
    throw new Error(`zstd-compressed, but not a tar archive (${errorMessage(e)})`);
  }
  if (files.size === 0) throw new Error("the archive has no members");
  const out = new Map<string, Uint8Array>();
  for (const [name, f] of files) out.set(name, await f.bytes());
  return out;
}
