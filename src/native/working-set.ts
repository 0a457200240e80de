// Gives back the resident pages of code aod no longer runs. Most of an idle
// daemon's RSS is the executable's own pages (Bun's native code, aod's
// bytecode) touched once while starting or collecting: config parsing, BTF,
// libbpf's loader, compression, archives. Most are clean file pages, so
// unmapping them costs little: what runs again maps them back with a fault.
// This is what the kernel does under memory pressure, done when aod knows it
// has gone quiet (daemon/settle.ts), so RSS shows the daemon's working set.
//
// Read-only file mappings with no private (copy-on-write) page are dropped
// with MADV_DONTNEED (a later touch is a minor fault from the page cache).
// Every other file mapping (the executable's data, relocated RELRO pages) goes
// through MADV_PAGEOUT: reclaim never loses a page's contents (a written page
// stays, or goes to swap), where MADV_DONTNEED would drop a private page's
// writes. Anonymous memory is the garbage collector's business.
//
// Never for files on a network file system: aod may run from a share, and the
// server it is there to diagnose may be the one that hangs; a page that must
// come back from it would hang aod too.
import type { Pointer } from "bun:ffi";
import { readFileSync } from "node:fs";
import { libc } from "./libc";

const MADV_DONTNEED = 4;
const MADV_PAGEOUT = 21; // Linux 5.4; older kernels refuse it (EINVAL) and keep the pages

export interface TrimResult {
  /** Mappings given back. */
  mappings: number;
  /** Resident bytes they held. */
  bytes: number;
}

interface Mapping {
  start: bigint;
  end: bigint;
  /** The backing file's device as smaps writes it ("fe:00"). */
  dev: string;
  /** Backed by a file (not anonymous memory, a stack or the vdso), private. */
  file: boolean;
  writable: boolean;
  rssKb: number;
  anonKb: number;
}

/** Parses /proc/self/smaps: each mapping with what a trim needs to know. */
export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ (\S+) (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const [, s, e, perms, dev, inode, path] = head;
      cur = {
        start: BigInt(`0x${s}`),
        end: BigInt(`0x${e}`),
        dev: dev!,
        file: perms![3] === "p" && inode !== "0" && !!path && !path.startsWith("["),
        writable: perms![1] === "w",
        rssKb: 0,
        anonKb: 0,
      };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const f = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (f) cur[f[1] === "Rss" ? "rssKb" : "anonKb"] = Number(f[2]);
  }
  return out;
}

const NETWORK_FS = /^(cifs|smb3|nfs|nfs4|ceph|glusterfs|afs|lustre|gfs2|ocfs2|fuse(\..*)?)$/;

/** Devices (as smaps writes them) of network file systems, from a mountinfo text. */
export function networkDevices(mountinfo: string): Set<string> {
  const out = new Set<string>();
  for (const line of mountinfo.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    if (sep < 0 || !NETWORK_FS.test(f[sep + 1] ?? "")) continue;
    const [maj, min] = (f[2] ?? "").split(":").map(Number);
    if (maj === undefined || min === undefined) continue;
    out.add(`${maj.toString(16).padStart(2, "0")}:${min.toString(16).padStart(2, "0")}`);
  }
  return out;
}

/** Gives back the resident pages of private file mappings (see above). */
export function trimWorkingSet(): TrimResult {
  const r: TrimResult = { mappings: 0, bytes: 0 };
  let text: string;
  let remote: Set<string>;
  try {
    text = readFileSync("/proc/self/smaps", "utf8");
    remote = networkDevices(readFileSync("/proc/self/mountinfo", "utf8"));
  } catch {
    return r; // no procfs: nothing to do
  }
  for (const m of parseSmaps(text)) {
    if (!m.file || m.rssKb === 0 || remote.has(m.dev)) continue;
    const advice = m.writable || m.anonKb > 0 ? MADV_PAGEOUT : MADV_DONTNEED;
    if (libc.madvise(Number(m.start) as unknown as Pointer, m.end - m.start, advice) !== 0) continue;
    r.mappings++;
    r.bytes += m.rssKb * 1024;
  }
  return r;
}
