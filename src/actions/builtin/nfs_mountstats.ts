// The NFS mounts' blocks of /proc/self/mountstats, whole: options, age, caps,
// events, bytes, the RPC transport (xprt: local port, connects, sends,
// backlog) and per-op statistics (per procedure: ops, transmissions,
// timeouts, bytes, queue/rtt/execute ms, errors). Read from the kernel's
// memory: no mount is touched, so a dead server cannot hang it.
import { nfsMountstats } from "../../host/nfs-mountstats";
import { readProc } from "../../host/procfs";
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";
import { TextOutput } from "../text-output";

export const MOUNTSTATS_PATH = "/proc/self/mountstats";

/** The action's output from a mountstats file (a parameter for tests). */
export function nfsMountstatsOutput(path: string, nowMs: number, capBytes: number): ActionOutput {
  const out = new TextOutput(capBytes);
  const text = readProc(path);
  if (text === undefined) {
    out.add(`${path} unreadable: NFS mount statistics not collected\n`);
    return out.output({ note: `${path} unreadable` });
  }
  const mounts = nfsMountstats(text);
  if (!mounts.length) {
    out.add(`no NFS mounts in ${path}\n`);
    return out.output();
  }
  out.add(
    `# nfs_mountstats: the NFS mounts (nfs, nfs4) of ${path} at ${new Date(nowMs).toISOString()}, as the kernel wrote them.\n` +
      "# per-op statistics: ops, transmissions, timeouts, bytes sent, bytes received, queue ms, rtt ms, execute ms, errors.\n" +
      `# ${mounts.length} NFS mounts\n`,
  );
  let written = 0;
  for (const m of mounts) {
    if (!out.add(`\n${m.lines.join("\n")}\n`)) break;
    written++;
  }
  return out.output(
    written < mounts.length ? { note: `output cap reached after ${written} of ${mounts.length} mounts` } : {},
  );
}

async function run(ctx: ActionContext): Promise<ActionOutput> {
  return nfsMountstatsOutput(MOUNTSTATS_PATH, Date.now(), ctx.capBytes);
}

export const nfs_mountstats = defineAction({
  name: "nfs_mountstats",
  file: "nfs_mountstats.log",
  what: "the NFS mounts' blocks of /proc/self/mountstats: options, events, bytes, xprt and per-op RPC statistics",
  run,
});
