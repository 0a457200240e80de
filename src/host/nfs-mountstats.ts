// /proc/self/mountstats: one block per mount, "device <dev> mounted on <dir>
// with fstype <type>" (fs/proc_namespace.c), and for nfs/nfs4 mounts the NFS
// client's own lines below it (fs/nfs/super.c, net/sunrpc/stats.c): opts,
// age, caps, sec, events, bytes, the RPC program and version, xprt (transport
// counters and local port) and per-op statistics (per procedure: ops,
// transmissions, timeouts, bytes sent and received, queue/rtt/execute ms,
// errors). All of it is the kernel's memory: reading it sends nothing to a
// server, so it answers while a server is dead.

/** The file system types of the NFS client (v2/v3 mounts are "nfs", v4.x "nfs4"). */
export const NFS_FSTYPES: ReadonlySet<string> = new Set(["nfs", "nfs4"]);

export interface MountStatsEntry {
  /** The mounted device as the kernel names it, unescaped ("server:/export"); "" for "no device". */
  device: string;
  mountpoint: string;
  fstype: string;
  /** The block format version ("1.1"): NFS mounts only. */
  statvers?: string;
  /** The block's lines as the kernel wrote them (escapes kept), the "device ..." line first. */
  lines: string[];
}

// The kernel escapes space, tab, newline and backslash in names as \ooo.
const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o) => String.fromCharCode(Number.parseInt(o, 8)));

const HEADER = /^(?:device (\S+)|no device) mounted on (\S+) with fstype (\S+)(?: statvers=(\S+))?/;

/** Every block of mountstats text, in the file's order (mount order). */
export function parseMountstats(text: string): MountStatsEntry[] {
  const out: MountStatsEntry[] = [];
  let cur: MountStatsEntry | undefined;
  for (const line of text.split("\n")) {
    const m = HEADER.exec(line);
    if (m) {
      cur = { device: unescapeOctal(m[1] ?? ""), mountpoint: unescapeOctal(m[2]!), fstype: m[3]!, lines: [line] };
      if (m[4] !== undefined) cur.statvers = m[4];
      out.push(cur);
    } else if (cur && line.trim()) cur.lines.push(line);
  }
  return out;
}

/** The NFS mounts' blocks (fstype nfs or nfs4), in mount order. */
export const nfsMountstats = (text: string): MountStatsEntry[] =>
  parseMountstats(text).filter((e) => NFS_FSTYPES.has(e.fstype));

/** The value of a "\t<key>:\t<value>" line of a block ("opts", "age", "xprt", ...); the first such line. */
export function mountstatsValue(entry: MountStatsEntry, key: string): string | undefined {
  const prefix = `${key}:`;
  for (const line of entry.lines.slice(1)) {
    const t = line.trim();
    if (t.startsWith(prefix)) return t.slice(prefix.length).trim();
  }
  return undefined;
}

/** The RPC program and version of a block ("RPC iostats version: 1.1  p/v: 100003/4 (nfs)"): 100003 is NFS. */
export function rpcProgramVersion(entry: MountStatsEntry): { program: number; version: number } | undefined {
  for (const line of entry.lines) {
    const m = /\bp\/v:\s*(\d+)\/(\d+)/.exec(line);
    if (m) return { program: Number(m[1]), version: Number(m[2]) };
  }
  return undefined;
}

/**
 * The procedure names of the per-op statistics, in the kernel's order: op i
 * is the RPC client's procedure i, the same index /proc/net/rpc/nfs counts
 * under (a procedure without a name in the kernel's table shows as its number).
 */
export function perOpNames(entry: MountStatsEntry): string[] {
  const at = entry.lines.findIndex((l) => l.trim() === "per-op statistics");
  if (at < 0) return [];
  const names: string[] = [];
  for (const line of entry.lines.slice(at + 1)) {
    const m = /^\s*([^\s:]+):\s+\d/.exec(line);
    if (!m) break;
    names.push(m[1]!);
  }
  return names;
}
