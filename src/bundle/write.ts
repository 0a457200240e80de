// Writes one bundle: the action logs and anomaly.json in a tar (members at the
// root), zstd-compressed through the native layer, under a temporary name,
// fsynced, then renamed. Names are unique even for two anomalies in one ns.
import { closeSync, fsyncSync, linkSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ZstdCompressor } from "../native/zstd";
import { errorCode } from "../util/errors";
import { bundleName, tempName } from "./names";

// Names being written by this process; a clash on disk is caught by link().
const reserved = new Set<bigint>();
function reserve(wantNs: bigint): bigint {
  let ns = wantNs;
  while (reserved.has(ns)) ns++;
  reserved.add(ns);
  return ns;
}

export interface BundleMember {
  name: string;
  data: Uint8Array | string;
}

export interface WrittenBundle {
  path: string;
  bytes: number;
}

/** Writes the members; the temp file is removed if anything fails. */
export async function writeBundle(
  batchesDir: string,
  atNs: bigint,
  members: BundleMember[],
  level: number,
  signal?: AbortSignal,
): Promise<WrittenBundle> {
  const tar = await new Bun.Archive(Object.fromEntries(members.map((m) => [m.name, m.data]))).bytes();
  for (let want = atNs; ; want++) {
    const ns = reserve(want);
    want = ns;
    const tmp = join(batchesDir, tempName(ns));
    const final = join(batchesDir, bundleName(ns));
    const fd = openSync(tmp, "wx", 0o600);
    let bytes = 0;
    try {
      const z = new ZstdCompressor({ level, workers: 1 });
      const step = 1 << 20;
      for (let o = 0; o < tar.length; o += step) {
        if (signal?.aborted) throw new Error("bundle writing aborted");
        for (const c of z.push(tar.subarray(o, o + step))) bytes += writeSync(fd, c);
        await Promise.resolve(); // let the event loop breathe between megabytes
      }
      for (const c of z.end()) bytes += writeSync(fd, c);
      fsyncSync(fd);
      closeSync(fd);
      // link() fails if the final name exists: never overwrite another bundle.
      try {
        linkSync(tmp, final);
      } catch (e) {
        unlinkSync(tmp);
        if (errorCode(e) === "EEXIST") continue;
        throw e;
      }
      unlinkSync(tmp);
      return { path: final, bytes };
    } catch (e) {
      try {
        closeSync(fd);
      } catch {}
      try {
        unlinkSync(tmp);
      } catch {}
      throw e;
    } finally {
      reserved.delete(ns);
    }
  }
}
