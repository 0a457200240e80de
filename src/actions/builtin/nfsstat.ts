// The NFS client's RPC counters, read from /proc/net/rpc/nfs (no nfsstat
// binary) and laid out like `nfsstat -c`: RPC calls, retransmissions and auth
// refreshes, then per NFS version each procedure's calls and share; the file
// as read at the end. Procedure names follow the running kernel's order: an
// NFS mount's per-op statistics in /proc/self/mountstats name them when there
// is one, else aod's table (src/host/nfs-rpc-stats.ts). Counters only: no
// mount is touched.
import { readFileSync } from "node:fs";
import { nfsMountstats, perOpNames, rpcProgramVersion } from "../../host/nfs-mountstats";
import { parseRpcNfsStats, procedureNames } from "../../host/nfs-rpc-stats";
import { readProc } from "../../host/procfs";
import { errorCode, errorMessage } from "../../util/errors";
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";
import { TextOutput } from "../text-output";

export interface NfsstatPaths {
  rpcNfs: string;
  /** Where the kernel's procedure names come from (per-op statistics of an NFS mount). */
  mountstats: string;
}

export const NFSSTAT_PATHS: NfsstatPaths = { rpcNfs: "/proc/net/rpc/nfs", mountstats: "/proc/self/mountstats" };

/** The RPC program number of NFS. */
const NFS_PROGRAM = 100003;
const COLUMNS = 4;
const WIDTH = 22;

/** Cells in rows of COLUMNS: a line of names over a line of values, like nfsstat. */
function grid(cells: [name: string, value: string][]): string {
  const line = (xs: string[]) => {
    const padded = xs.map((x) => x.padEnd(WIDTH)).join("");
    return `${padded.trimEnd()}\n`;
  };
  let s = "";
  for (let i = 0; i < cells.length; i += COLUMNS) {
    const row = cells.slice(i, i + COLUMNS);
    s += line(row.map(([n]) => n)) + line(row.map(([, v]) => v));
  }
  return s;
}

/** Per NFS version, the procedure names of the running kernel: from any NFS mount's per-op statistics. */
function kernelNames(mountstats: string | undefined): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const m of nfsMountstats(mountstats ?? "")) {
    const pv = rpcProgramVersion(m);
    const names = perOpNames(m);
    if (pv?.program === NFS_PROGRAM && names.length && !out.has(pv.version)) out.set(pv.version, names);
  }
  return out;
}

/** The action's output from /proc/net/rpc/nfs and mountstats files (parameters for tests). */
export function nfsstatOutput(paths: NfsstatPaths, nowMs: number, capBytes: number): ActionOutput {
  const out = new TextOutput(capBytes);
  let raw: string;
  try {
    raw = readFileSync(paths.rpcNfs, "utf8");
  } catch (e) {
    if (errorCode(e) === "ENOENT") {
      out.add(`nfs not loaded: ${paths.rpcNfs} does not exist (the kernel's NFS client module is not loaded)\n`);
      return out.output();
    }
    const why = errorCode(e) ?? errorMessage(e);
    out.add(`${paths.rpcNfs} unreadable (${why}): NFS client counters not collected\n`);
    return out.output({ note: `${paths.rpcNfs} unreadable (${why})` });
  }
  const stats = parseRpcNfsStats(raw);
  const named = kernelNames(readProc(paths.mountstats));
  let head =
    `# nfsstat: the NFS client's counters in ${paths.rpcNfs} at ${new Date(nowMs).toISOString()}, since the nfs\n` +
    "# module loaded, laid out like `nfsstat -c` (no binary run): calls per procedure and their share of the version's\n" +
    "# calls. Procedure names in the kernel's order; the file as read at the end.\n";
  if (stats.rpc) {
    const r = stats.rpc;
    head += `\nClient rpc stats:\n${grid([
      ["calls", String(r.calls)],
      ["retrans", String(r.retrans)],
      ["authrefrsh", String(r.authrefresh)],
    ])}`;
  } else head += "\n# no rpc line in the file\n";
  if (!stats.versions.length) head += "\n# no procN line: no NFS version registered with the client yet\n";
  out.add(head);
  // One section per version (what fits under the cap is kept whole).
  for (const v of stats.versions) {
    const { names, source } = procedureNames(v.version, v.counts.length, named.get(v.version));
    const total = v.counts.reduce((a, b) => a + b, 0);
    const pct = (n: number) => (total ? Math.floor((n * 100) / total) : 0);
    let s = `\nClient nfs v${v.version}:\n`;
    if (source === "partial")
      s += `# this kernel counts ${v.counts.length} v${v.version} procedures, more than aod can name without an NFS mount: the others by index\n`;
    out.add(s + grid(v.counts.map((n, i) => [names[i]!.toLowerCase(), `${n} ${pct(n)}%`])));
  }
  out.add(`\n# ${paths.rpcNfs} as read:\n${raw}${raw.endsWith("\n") || !raw ? "" : "\n"}`);
  return out.output(out.truncated ? { note: "output cap reached" } : {});
}

async function run(ctx: ActionContext): Promise<ActionOutput> {
  return nfsstatOutput(NFSSTAT_PATHS, Date.now(), ctx.capBytes);
}

export const nfsstat = defineAction({
  name: "nfsstat",
  file: "nfsstat.log",
  what: "NFS client RPC counters from /proc/net/rpc/nfs, per version and procedure like nfsstat -c (no binary)",
  run,
});
