// Writes one bundle: the action logs and anomaly.json in a tar (members at the
// root) with manifest.json last (./manifest.ts: every other member's size and
// sha256), zstd-compressed through the native layer, under a temporary name,
// fsynced, then renamed. Names are unique even for two anomalies in one ns.
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ZstdCompressor } from "../native/zstd";
import { errorCode } from "../util/errors";
import { buildManifest, MANIFEST, manifestText, memberBytes } from "./manifest";
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

/**
 * The tar of the members (a later member of the same name replaces an earlier
 * one) and manifest.json computed from their final bytes, added last. A
 * manifest.json among the members is dropped: the writer computes its own.
 */
export async function bundleTar(members: BundleMember[]): Promise<Uint8Array> {
  const byName = new Map<string, Uint8Array>();
  for (const m of members) if (m.name !== MANIFEST) byName.set(m.name, memberBytes(m.data));
  const manifest = buildManifest([...byName].map(([name, bytes]) => ({ name, bytes })));
  const entries: Record<string, Uint8Array | string> = Object.fromEntries(byName);
  entries[MANIFEST] = manifestText(manifest);
  return new Bun.Archive(entries).bytes();
}

/** Compresses the tar into fd (the caller closes it); returns the bytes written. */
async function compressInto(fd: number, tar: Uint8Array, level: number, signal?: AbortSignal): Promise<number> {
  let bytes = 0;
  const z = new ZstdCompressor({ level, workers: 1 });
  const step = 1 << 20;
  for (let o = 0; o < tar.length; o += step) {
    if (signal?.aborted) throw new Error("bundle writing aborted");
    for (const c of z.push(tar.subarray(o, o + step))) bytes += writeSync(fd, c);
    await Promise.resolve(); // let the event loop breathe between megabytes
  }
  for (const c of z.end()) bytes += writeSync(fd, c);
  fsyncSync(fd);
  return bytes;
}

/** Writes the members; the temp file is removed if anything fails. */
export async function writeBundle(
  batchesDir: string,
  atNs: bigint,
  members: BundleMember[],
  level: number,
  signal?: AbortSignal,
): Promise<WrittenBundle> {
  const tar = await bundleTar(members);
  for (let want = atNs; ; want++) {
    const ns = reserve(want);
    want = ns;
    const final = join(batchesDir, bundleName(ns));
    try {
      const fill = (fd: number) => compressInto(fd, tar, level, signal);
      return { path: final, bytes: await writeFileAtomic(final, fill, false, join(batchesDir, tempName(ns))) };
    } catch (e) {
      // link() fails if the final name exists: never overwrite another bundle, take the next name.
      if (errorCode(e) === "EEXIST" && existsSync(final)) continue;
      throw e;
    } finally {
      reserved.delete(ns);
    }
  }
}

/**
 * Writes a file (mode 0600) atomically: a hidden temporary name in the same
 * directory, fsynced, then linked (refusing an existing `path`: EEXIST) or,
 * with `overwrite`, renamed over it. The temporary file never outlives a failure.
 */
export async function writeFileAtomic(
  path: string,
  fill: (fd: number) => Promise<number> | number,
  overwrite = false,
  tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`),
): Promise<number> {
  const fd = openSync(tmp, "wx", 0o600);
  try {
    const bytes = await fill(fd);
    fsyncSync(fd);
    closeSync(fd);
    if (overwrite) renameSync(tmp, path);
    else {
      linkSync(tmp, path);
      unlinkSync(tmp);
    }
    return bytes;
  } catch (e) {
    try {
      closeSync(fd);
    } catch {}
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
}

/** A bundle written to a path of the caller's choosing (`aod bundles redact`), atomically, 0600. */
export async function writeBundleFile(
  path: string,
  members: BundleMember[],
  level: number,
  overwrite = false,
): Promise<WrittenBundle> {
  const tar = await bundleTar(members);
  const bytes = await writeFileAtomic(path, (fd) => compressInto(fd, tar, level), overwrite);
  return { path, bytes };
}
