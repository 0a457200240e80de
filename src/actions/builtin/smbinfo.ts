// smbinfo(1) queries for each cifs mount.
import { cifsMounts } from "../../host/mounts";
import { findBinary } from "../../host/which";
import { captureCommand, concat, enc } from "../capture";
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";

// Queries that work on a mount point and say something about the share, in
// the order worth reading. Never `keys`: it prints session keys.
export const SMBINFO_QUERIES = ["filefsfullsizeinfo", "fileallinfo", "list-snapshots", "quota"];

async function run(ctx: ActionContext): Promise<ActionOutput> {
  if (!findBinary("smbinfo"))
    return {
      data: enc("smbinfo not installed (cifs-utils); skipped\n"),
      truncated: false,
      note: "smbinfo not installed",
    };
  const mounts = cifsMounts();
  if (!mounts.length) return { data: enc("no cifs mounts\n"), truncated: false };
  // Only the queries this smbinfo knows (versions differ).
  const help = await captureCommand(["smbinfo", "-h"], { ...ctx, capBytes: 64 * 1024 });
  const known = new TextDecoder().decode(help.data);
  const queries = SMBINFO_QUERIES.filter((q) => new RegExp(`\\b${q}\\b`).test(known));
  if (!queries.length)
    return {
      data: enc(`this smbinfo offers none of ${SMBINFO_QUERIES.join(", ")}\n${known}`),
      truncated: false,
      exitStatus: 1,
    };
  const parts: Uint8Array[] = [];
  let truncated = false;
  let worst = 0;
  for (const m of mounts) {
    for (const q of queries) {
      if (ctx.signal.aborted) break;
      const r = await captureCommand(["smbinfo", q, m.mountpoint], {
        ...ctx,
        capBytes: Math.max(0, ctx.capBytes - parts.reduce((n, p) => n + p.length, 0)),
      });
      parts.push(enc(`### smbinfo ${q} ${m.mountpoint} (${m.source}) exit ${r.exitStatus}\n`), r.data, enc("\n"));
      truncated ||= r.truncated;
      if (r.exitStatus) worst = r.exitStatus;
    }
  }
  return { data: concat(...parts), truncated, exitStatus: worst };
}

export const smbinfo = defineAction({
  name: "smbinfo",
  file: "smbinfo.log",
  what: "smbinfo queries for each cifs mount",
  binaries: [
    { name: "smbinfo", why: "the smbinfo action is skipped with a note (Debian/Ubuntu: apt install cifs-utils)" },
  ],
  run,
});
