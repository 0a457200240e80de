// /proc/net/rpc/nfs: the NFS client's RPC counters since the nfs module loaded
// (net/sunrpc/stats.c, rpc_proc_show): "net" (counted by servers only: zeros
// on a client), "rpc <calls> <retransmissions> <auth refreshes>", and for each
// NFS version the client has registered "proc<v> <n> <count>...": n counters,
// one per procedure. Counter i counts the calls of the version's procedure
// with index i (p_statidx, counted when the call starts): for v2 and v3 the
// protocol's procedure numbers, for v4 the Linux client's own list of
// operations (enum NFSPROC4_CLNT_* in include/linux/nfs4.h), not the
// protocol's operation numbers. The file exists while the nfs module is loaded.

import { NFS3_PROCEDURES, NFS4_PROCEDURES } from "../format/nfs-procedures";

export interface RpcCounters {
  calls: number;
  retrans: number;
  authrefresh: number;
}

export interface ProcCounts {
  version: number;
  /** Calls per procedure index. */
  counts: number[];
}

export interface NfsClientStats {
  rpc?: RpcCounters;
  /** The "net" line's four counters (packets, udp, tcp, tcp connections). */
  net?: number[];
  /** The procN lines, in the file's order. */
  versions: ProcCounts[];
}

const numbers = (fields: string[]) => fields.map(Number).filter((n) => Number.isFinite(n));

/** The counters of /proc/net/rpc/nfs text. */
export function parseRpcNfsStats(text: string): NfsClientStats {
  const out: NfsClientStats = { versions: [] };
  for (const line of text.split("\n")) {
    const [key, ...rest] = line.trim().split(/\s+/);
    const n = numbers(rest);
    if (key === "net") out.net = n;
    else if (key === "rpc" && n.length >= 3) out.rpc = { calls: n[0]!, retrans: n[1]!, authrefresh: n[2]! };
    else if (key && /^proc\d+$/.test(key) && n.length >= 1)
      out.versions.push({ version: Number(key.slice(4)), counts: n.slice(1, 1 + n[0]!) });
  }
  return out;
}

// Procedure names per index, as the kernel spells them (its p_name: what
// mountstats' per-op lines print). v2 and v3: include/uapi/linux/nfs2.h and
// nfs3.h, the protocol's numbers (RFC 1094, RFC 1813).
export const NFS2_PROCEDURES: readonly string[] = [
  "NULL",
  "GETATTR",
  "SETATTR",
  "ROOT",
  "LOOKUP",
  "READLINK",
  "READ",
  "WRITECACHE",
  "WRITE",
  "CREATE",
  "REMOVE",
  "RENAME",
  "LINK",
  "SYMLINK",
  "MKDIR",
  "RMDIR",
  "READDIR",
  "STATFS",
];

// v3 and v4: one table with nfsslower's (src/format/nfs-procedures.ts).
export { NFS3_PROCEDURES, NFS4_PROCEDURES };

/**
 * How many v4 names hold on a kernel with more counters than NFS4_PROCEDURES:
 * newer kernels inserted ZERO_RANGE after DEALLOCATE (index 56), moving what
 * follows, so past it a longer list cannot be named from this table.
 */
export const NFS4_STABLE_PREFIX = 57;

export interface ProcedureNames {
  names: string[];
  /** "kernel": the running kernel's own names (mountstats per-op); "table": aod's tables; "partial": some by index. */
  source: "kernel" | "table" | "partial";
}

const TABLES: Record<number, readonly string[]> = { 2: NFS2_PROCEDURES, 3: NFS3_PROCEDURES, 4: NFS4_PROCEDURES };

/**
 * Names for the `count` counters of a procN line. `kernelNames` are the
 * running kernel's, in index order (perOpNames() of a mount of that version):
 * used when there is one per counter, a bare number in them (a procedure the
 * kernel left unnamed) replaced from the table. Otherwise the table, and
 * "#<index>" for an index it cannot name.
 */
export function procedureNames(version: number, count: number, kernelNames?: readonly string[]): ProcedureNames {
  const table = TABLES[version] ?? [];
  if (kernelNames && kernelNames.length === count)
    return { names: kernelNames.map((n, i) => (/^\d+$/.test(n) ? (table[i] ?? `#${i}`) : n)), source: "kernel" };
  const known = version === 4 && count > table.length ? NFS4_STABLE_PREFIX : table.length;
  const names = Array.from({ length: count }, (_, i) => (i < known ? table[i]! : `#${i}`));
  return { names, source: count > known ? "partial" : "table" };
}
