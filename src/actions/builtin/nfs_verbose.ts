// nfs_verbose: the NFS counterpart of cifs_verbose. For collection.verbose_sec
// after an anomaly the sunrpc debug flags are raised the way `rpcdebug -m nfs
// -s …` and `rpcdebug -m rpc -s …` raise them (/proc/sys/sunrpc/nfs_debug and
// rpc_debug: a documented set, not "all"; which and why in
// ../verbose/sunrpc.ts); the kernel log lines of that window are the action's
// output; then exactly the previous values return.
//
// The same machinery as cifs_verbose (src/actions/verbose/): the previous
// values are recorded before anything is raised, in <AOD_STATE_DIR or
// /var/lib/aod>/nfs-verbose-state.json (0600 in a 0700 dir), flock()ed while
// the window is open; restoreVerboseLeftovers() at the daemon's start puts
// them back after a crash or kill -9; an abort restores at once; overlapping
// anomalies share one raised window, restored when the last ends. A
// cifs_verbose window beside it has its own knobs, record and lock. Without
// /proc/sys/sunrpc/nfs_debug (sunrpc not loaded, or CONFIG_SUNRPC_DEBUG off)
// the output is one line saying so, and nothing is changed.
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";
import { defaultNfsVerbosePaths, type NfsVerbosePaths } from "../verbose/paths";
import { type Acquired, acquireWindow, releaseWindow } from "../verbose/session";
import { sunrpcKind } from "../verbose/sunrpc";
import { runWindow } from "../verbose/window";

export { defaultNfsVerbosePaths, NFS_STATE_FILE_NAME, type NfsVerbosePaths } from "../verbose/paths";
export {
  hex,
  NFS_DEBUG_RAISED,
  NFSDBG,
  type NfsSavedSettings,
  parseFlags,
  parseNfsSaved,
  RPC_DEBUG_RAISED,
  RPCDBG,
} from "../verbose/sunrpc";

/** The action with its paths as parameters (tests use temp files for the kernel's). */
export const nfsVerboseWindow = (ctx: ActionContext, paths: NfsVerbosePaths): Promise<ActionOutput> =>
  runWindow(sunrpcKind, ctx, paths);
/** Records the previous values, then raises them; or joins this process's open nfs_verbose window. */
export const acquireNfsVerbose = (paths: NfsVerbosePaths): Acquired => acquireWindow(sunrpcKind, paths);
/** Ends one holder's nfs_verbose window; the last restores. What was restored, or undefined while others hold it. */
export const releaseNfsVerbose = (): string[] | undefined => releaseWindow(sunrpcKind);

export const nfs_verbose = defineAction({
  name: "nfs_verbose",
  file: "nfs_verbose.log",
  what: "NFS and RPC debug flags (rpcdebug: nfs, rpc) for collection.verbose_sec, its kernel log, then restored",
  run: (ctx) => nfsVerboseWindow(ctx, defaultNfsVerbosePaths()),
});
