// Processes with files open on each SMB (cifs, smb3) and NFS (nfs, nfs4) mount:
// path and mode, grouped by mount, at most MAX_LINES files. A dead server must
// not hang this action, so it never stat()s, opens or resolves a file on a
// mount: it reads /proc/<pid>/fd links (readlink), /proc/<pid>/fdinfo and the
// mount tables only. A link is placed on a mount by its text (the longest
// mount point above it), checked against fdinfo's mnt_id where the kernel
// gives one (so a file on a mount nested inside a share is not counted).
// Processes in other mount namespaces (containers) are matched against their
// own namespace's table. Memory-mapped files are not listed: reading
// /proc/<pid>/maps takes the task's mm lock, which a task stuck in a page
// fault on the share may hold.
import { type MountInfo, mountOfPath, parseMountinfo } from "../../host/mountinfo";
import { numericEntries, readLink, readProc } from "../../host/procfs";
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";
import { breather, oneLine, TextOutput } from "../text-output";

export const MAX_LINES = 2000;
export const SHARE_FSTYPES: ReadonlySet<string> = new Set(["cifs", "smb3", "nfs", "nfs4"]);

/** r, w or rw from fdinfo's octal flags (O_ACCMODE); "path" for an O_PATH descriptor. */
export function decodeMode(flags: number): string {
  if (flags & 0o10000000) return "path";
  return ["r", "w", "rw", "?"][flags & 3]!;
}

/** pos, flags and mnt_id of /proc/<pid>/fdinfo/<fd>. */
export function parseFdinfo(text: string): { pos?: number; flags?: number; mntId?: number } {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(text)?.[1];
  const pos = field("pos");
  const flags = field("flags");
  const mnt = field("mnt_id");
  return {
    pos: pos === undefined ? undefined : Number(pos),
    flags: flags === undefined ? undefined : Number.parseInt(flags, 8),
    mntId: mnt === undefined ? undefined : Number(mnt),
  };
}

interface Table {
  /** "mnt:[4026531832]", or "" when the namespace link could not be read. */
  ns: string;
  own: boolean;
  mounts: MountInfo[];
  byId: Map<number, MountInfo>;
  shares: MountInfo[];
}

function table(ns: string, own: boolean, text: string | undefined, fstypes: ReadonlySet<string>): Table {
  const mounts = parseMountinfo(text ?? "");
  return {
    ns,
    own,
    mounts,
    byId: new Map(mounts.map((m) => [m.id, m])),
    shares: mounts.filter((m) => fstypes.has(m.fstype)),
  };
}

export interface OpenFile {
  pid: number;
  comm: string;
  /** The fd number, or cwd, root, exe. */
  fd: string;
  mode?: string;
  pos?: number;
  path: string;
}

export interface ShareUse {
  mount: MountInfo;
  /** Mount namespace, when not aod's own. */
  ns?: string;
  files: OpenFile[];
  /** Files beyond the line limit (counted, not kept). */
  more: number;
  pids: Set<number>;
}

export interface OpenFilesScan {
  uses: ShareUse[];
  processes: number;
  stopped: boolean;
  /** Why aod's own mount table could not be read. */
  error?: string;
}

/**
 * Walks <proc>/<pid> for links onto mounts of the given types. `proc` and
 * `fstypes` are parameters for tests (a fake tree, tmpfs standing in for a share).
 */
export async function scanOpenFiles(
  proc: string,
  signal: AbortSignal,
  opts: { fstypes?: ReadonlySet<string>; maxLines?: number } = {},
): Promise<OpenFilesScan> {
  const fstypes = opts.fstypes ?? SHARE_FSTYPES;
  const maxLines = opts.maxLines ?? MAX_LINES;
  const ownText = readProc(`${proc}/self/mountinfo`);
  if (ownText === undefined)
    return { uses: [], processes: 0, stopped: false, error: `${proc}/self/mountinfo unreadable` };
  const ownNs = readLink(`${proc}/self/ns/mnt`) ?? "";
  const own = table(ownNs, true, ownText, fstypes);
  const tables = new Map<string, Table>([[ownNs, own]]);
  const uses = new Map<string, ShareUse>();
  const useOf = (t: Table, m: MountInfo) => {
    const key = `${t.ns} ${m.id}`;
    let u = uses.get(key);
    if (!u) {
      u = { mount: m, ns: t.own ? undefined : t.ns, files: [], more: 0, pids: new Set() };
      uses.set(key, u);
    }
    return u;
  };
  for (const m of own.shares) useOf(own, m); // every share of aod's namespace is listed, used or not
  let kept = 0;
  let processes = 0;
  let stopped = false;
  let n = 0;
  const self = readLink(`${proc}/self`);
  for (const pid of numericEntries(proc)) {
    if (++n % 32 === 0) await breather();
    if (signal.aborted) {
      stopped = true;
      break;
    }
    if (String(pid) === self) continue;
    const base = `${proc}/${pid}`;
    const ns = readLink(`${base}/ns/mnt`) ?? ownNs;
    let t = tables.get(ns);
    if (!t) {
      t = table(ns, false, readProc(`${base}/mountinfo`), fstypes);
      tables.set(ns, t);
    }
    if (!t.shares.length) continue;
    let comm: string | undefined;
    let found = false;
    const links: [string, string][] = [
      ["cwd", `${base}/cwd`],
      ["root", `${base}/root`],
      ["exe", `${base}/exe`],
      ...numericEntries(`${base}/fd`).map((fd): [string, string] => [String(fd), `${base}/fd/${fd}`]),
    ];
    for (const [fd, link] of links) {
      const target = readLink(link);
      if (!target?.startsWith("/")) continue; // socket:[…], pipe:[…], anon_inode:…
      let m = mountOfPath(target, t.mounts);
      if (!m || !fstypes.has(m.fstype)) continue;
      const file: OpenFile = { pid, comm: "", fd, path: target };
      if (/^\d+$/.test(fd)) {
        const info = parseFdinfo(readProc(`${base}/fdinfo/${fd}`) ?? "");
        const byId = info.mntId === undefined ? undefined : t.byId.get(info.mntId);
        if (byId && !fstypes.has(byId.fstype)) continue; // on a mount nested inside the share
        if (byId) m = byId;
        if (info.flags !== undefined) file.mode = decodeMode(info.flags);
        if (info.pos !== undefined) file.pos = info.pos;
      }
      comm ??= readProc(`${base}/comm`)?.trim() ?? "?";
      file.comm = comm;
      found = true;
      const u = useOf(t, m);
      u.pids.add(pid);
      if (kept < maxLines) {
        u.files.push(file);
        kept++;
      } else u.more++;
    }
    if (found) processes++;
  }
  return { uses: [...uses.values()], processes, stopped };
}

export function formatOpenFiles(scan: OpenFilesScan, nowMs: number, capBytes: number): ActionOutput {
  const out = new TextOutput(capBytes);
  out.add(
    `# open_files: processes with files open on cifs, smb3, nfs and nfs4 mounts, at ${new Date(nowMs).toISOString()};\n` +
      "# from /proc/<pid>/fd links and fdinfo (no file on a mount is touched), memory maps not included;\n" +
      `# at most ${MAX_LINES} files. fd is a number, or cwd/root/exe; mode r, w, rw (path: O_PATH).\n`,
  );
  if (scan.error) {
    out.add(`\n${scan.error}\n`);
    return out.output({ note: scan.error });
  }
  const files = scan.uses.reduce((s, u) => s + u.files.length + u.more, 0);
  const more = scan.uses.reduce((s, u) => s + u.more, 0);
  out.add(
    `# ${scan.uses.length} mounts; ${scan.processes} processes with ${files} files open on them` +
      (more ? `; ${more} files beyond the limit counted, not listed` : "") +
      "\n",
  );
  if (scan.stopped) out.add("# the deadline came during the scan: the list is partial\n");
  if (!scan.uses.length) out.add("\nno cifs or nfs mounts\n");
  const order = [...scan.uses].sort(
    (a, b) =>
      Number(a.ns !== undefined) - Number(b.ns !== undefined) ||
      (a.ns ?? "").localeCompare(b.ns ?? "") ||
      a.mount.mountpoint.localeCompare(b.mount.mountpoint),
  );
  for (const u of order) {
    const m = u.mount;
    const where = u.ns ? `, mount namespace ${u.ns}` : "";
    const root = m.root !== "/" ? `, root ${oneLine(m.root)}` : "";
    const what = u.pids.size
      ? `${u.pids.size} processes, ${u.files.length + u.more} files${u.more ? ` (${u.more} not listed)` : ""}`
      : "nothing open";
    if (
      !out.add(
        `\n## ${oneLine(m.source)} on ${oneLine(m.mountpoint)} (${m.fstype}, mount id ${m.id}${root}${where}): ${what}\n`,
      )
    )
      break;
    for (const f of u.files) {
      const line =
        `pid=${f.pid} comm=${JSON.stringify(f.comm)} fd=${f.fd}` +
        (f.mode ? ` mode=${f.mode}` : "") +
        (f.pos !== undefined ? ` pos=${f.pos}` : "") +
        ` ${oneLine(f.path)}\n`;
      if (!out.add(line)) break;
    }
    if (out.truncated) break;
  }
  return out.output(out.truncated ? { note: "output cap reached" } : {});
}

async function run(ctx: ActionContext): Promise<ActionOutput> {
  const scan = await scanOpenFiles("/proc", ctx.signal);
  return formatOpenFiles(scan, Date.now(), ctx.capBytes);
}

export const open_files = defineAction({
  name: "open_files",
  file: "open_files.log",
  what: "processes with files open on each cifs/nfs mount: path and mode (from /proc/<pid>/fd, no file touched)",
  run,
});
