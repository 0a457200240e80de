// Lists and opens bundles without unpacking them by hand.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { zstdDecompress } from "../native/zstd";
import { errorCode } from "../util/errors";
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

export interface OpenedBundle {
  members: { name: string; size: number }[];
  anomaly?: any;
  files: Map<string, File>;
}

export async function openBundle(path: string): Promise<OpenedBundle> {
  const tar = zstdDecompress(readFileSync(path));
  const files = await new Bun.Archive(tar).files();
  const members = [...files.entries()].map(([name, f]) => ({ name, size: f.size }));
  const a = files.get("anomaly.json");
  return { members, anomaly: a ? JSON.parse(await a.text()) : undefined, files };
}
