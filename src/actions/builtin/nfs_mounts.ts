// The NFS mounts of aod's mount table (/proc/self/mountinfo): each as a
// /proc/mounts line (source server:/export, mount point, fstype, the full
// super options), then what those options say about the connection: version,
// transport, the server's address, hard or soft, timeout and retries. From
// the table's text: no mount is touched, so a dead server cannot hang it.
import { nfsMounts } from "../../host/nfs-mounts";
import { readProc } from "../../host/procfs";
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";
import { TextOutput } from "../text-output";

export const MOUNTINFO_PATH = "/proc/self/mountinfo";

/** The options shown on each mount's second line, when set (then hard, soft or softerr, as the kernel says). */
const SHOWN = ["vers", "proto", "addr", "clientaddr", "mountaddr", "port", "sec", "timeo", "retrans"];

/**
 * A name (source, mount point) escaped back as the kernel writes it in mount
 * tables (space, tab, newline, backslash as \ooo; other control characters
 * too): one field, and the line stays in /proc/mounts form, whose servers
 * bundle redaction learns. The super options are printed as read (still escaped).
 */
const escapeField = (s: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
  s.replace(/[\u0000-\u0020\u007f\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);

/** The action's output from a mountinfo file (a parameter for tests). */
export function nfsMountsOutput(path: string, nowMs: number, capBytes: number): ActionOutput {
  const out = new TextOutput(capBytes);
  const text = readProc(path);
  if (text === undefined) {
    out.add(`${path} unreadable: NFS mounts not listed\n`);
    return out.output({ note: `${path} unreadable` });
  }
  const mounts = nfsMounts(text);
  if (!mounts.length) {
    out.add(`no NFS mounts in ${path}\n`);
    return out.output();
  }
  out.add(
    `# nfs_mounts: the NFS mounts (nfs, nfs4) of ${path} at ${new Date(nowMs).toISOString()}: source, mount point,\n` +
      "# fstype and super options as in /proc/mounts, then mount id and the connection's options. No mount touched.\n" +
      `# ${mounts.length} NFS mounts\n`,
  );
  let written = 0;
  for (const n of mounts) {
    const m = n.mount;
    const details = [
      `mount_id=${m.id}`,
      ...(m.root !== "/" ? [`root=${escapeField(m.root)}`] : []),
      ...SHOWN.filter((k) => n.options.has(k)).map((k) => `${k}=${n.options.get(k)}`),
      ...["hard", "soft", "softerr"].filter((k) => n.options.has(k)),
    ];
    const line =
      `\n${escapeField(m.source)} ${escapeField(m.mountpoint)} ${m.fstype} ${n.superOptions}\n` +
      `  ${details.join(" ")}\n`;
    if (!out.add(line)) break;
    written++;
  }
  return out.output(
    written < mounts.length ? { note: `output cap reached after ${written} of ${mounts.length} mounts` } : {},
  );
}

async function run(ctx: ActionContext): Promise<ActionOutput> {
  return nfsMountsOutput(MOUNTINFO_PATH, Date.now(), ctx.capBytes);
}

export const nfs_mounts = defineAction({
  name: "nfs_mounts",
  file: "nfs_mounts.log",
  what: "NFS mounts from /proc/self/mountinfo: server:/export, mount point, vers, proto, addr and the full super options",
  run,
});
