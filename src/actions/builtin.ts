// What each built-in action does (names and file names: ./catalog.ts).
import { existsSync } from "node:fs";
import { cifsMounts } from "../host/mounts";
import { captureCommand, captureFile, concat, enc, tailFile } from "./capture";
import type { BuiltinActionName } from "./catalog";
import type { ActionContext, ActionFn, ActionOutput } from "./context";
import { readKmsg } from "./kmsg";

const since = (ctx: ActionContext) => `@${Math.floor(ctx.detectedAtMs / 1000 - ctx.lookbackSec)}`;
const hasJournal = () => existsSync("/run/systemd/journal") && !!Bun.which("journalctl", { PATH: "/usr/bin:/bin" });

export const SMBINFO_QUERIES = ["filefsfullsizeinfo", "fileallinfo", "list-snapshots", "quota"];

async function smbinfo(ctx: ActionContext): Promise<ActionOutput> {
  if (!Bun.which("smbinfo", { PATH: `${process.env.PATH ?? ""}:/usr/bin:/bin:/usr/sbin` }))
    return {
      data: enc("smbinfo not installed (cifs-utils); skipped\n"),
      truncated: false,
      note: "smbinfo not installed",
    };
  const mounts = cifsMounts();
  if (!mounts.length) return { data: enc("no cifs mounts\n"), truncated: false };
  // Queries that work on a mount point and say something about the share, in
  // the order worth reading; only those this smbinfo knows (versions differ).
  // Never `keys`: it prints session keys.
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

export const BUILTIN_IMPL: Record<BuiltinActionName, ActionFn> = {
  dmesg: async (ctx) =>
    hasJournal()
      ? captureCommand(["journalctl", "-k", "--since", since(ctx), "--no-pager", "-o", "short-iso-precise"], ctx)
      : readKmsg(ctx),
  journalctl: async (ctx) =>
    hasJournal()
      ? captureCommand(["journalctl", "--since", since(ctx), "--no-pager", "-o", "short-iso-precise"], ctx)
      : { data: enc("no systemd journal on this host\n"), truncated: false, note: "no journald", exitStatus: 1 },
  debugdata: async (ctx) => captureFile("/proc/fs/cifs/DebugData", ctx),
  stats: async (ctx) => captureFile("/proc/fs/cifs/Stats", ctx),
  mounts: async (ctx) => captureFile("/proc/mounts", ctx),
  smbinfo,
  syslogs: async (ctx) => {
    const file = ["/var/log/syslog", "/var/log/messages"].find((f) => existsSync(f));
    if (!file)
      return {
        data: enc("no /var/log/syslog or /var/log/messages\n"),
        truncated: false,
        note: "no syslog file",
        exitStatus: 1,
      };
    return tailFile(file, ctx.syslogLines, ctx);
  },
};
