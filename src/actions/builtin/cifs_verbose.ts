// cifs_verbose: for collection.verbose_sec after an anomaly, the cifs client
// logs verbosely (cifsFYI 7, and `module cifs +p` in dynamic debug, without
// which the FYI messages never reach the log); the kernel log lines of that
// window are the action's output; then exactly the previous settings return.
//
// The previous settings are recorded on disk before anything is raised
// (<AOD_STATE_DIR or /var/lib/aod>/verbose-state.json, 0600 in a 0700 dir),
// and the file stays flock()ed while the window is open. After a crash or a
// kill -9 the lock is gone with the process, and restoreVerboseLeftovers()
// (called once when the daemon starts; it restores nfs_verbose's record too)
// puts the recorded settings back. An abort (deadline, SIGTERM) restores at
// once. Anomalies that overlap share one raised window: the settings come
// back when the last of them ends. An nfs_verbose window beside it has its
// own knobs, record and lock: neither restores the other's.
//
// The machinery is in src/actions/verbose/, shared with nfs_verbose: kind.ts
// (what a kind of window provides), cifs.ts (this one: cifsFYI in fyi.ts,
// dynamic-debug.ts for the control file and restoring it per callsite),
// paths.ts (where the knobs are), state-file.ts (the record and its lock),
// session.ts (raising, and sharing one window per kind), leftovers.ts (windows
// a crash left open), kmsg-window.ts and window.ts (the window itself).
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";
import { cifsKind } from "../verbose/cifs";
import { defaultVerbosePaths, type VerbosePaths } from "../verbose/paths";
import { type Acquired, acquireWindow, releaseWindow } from "../verbose/session";
import { runWindow } from "../verbose/window";

export { parseSaved, type SavedSettings } from "../verbose/cifs";
export {
  type Callsite,
  type DynamicDebugSaved,
  dynamicDebugBefore,
  parseControl,
  restoreQueries,
} from "../verbose/dynamic-debug";
export { FYI_RAISED } from "../verbose/fyi";
export { restoreVerboseLeftovers } from "../verbose/leftovers";
export { CONTROL_PATHS, defaultVerbosePaths, STATE_FILE_NAME, type VerbosePaths } from "../verbose/paths";

/** The action with its paths as parameters (tests use temp files for the kernel's). */
export const verboseWindow = (ctx: ActionContext, paths: VerbosePaths): Promise<ActionOutput> =>
  runWindow(cifsKind, ctx, paths);
/** Records the previous settings, then raises them; or joins this process's open cifs_verbose window. */
export const acquireVerbose = (paths: VerbosePaths): Acquired => acquireWindow(cifsKind, paths);
/** Ends one holder's cifs_verbose window; the last restores. What was restored, or undefined while others hold it. */
export const releaseVerbose = (): string[] | undefined => releaseWindow(cifsKind);

export const cifs_verbose = defineAction({
  name: "cifs_verbose",
  file: "cifs_verbose.log",
  what: "cifs verbose logging (cifsFYI, dynamic debug) for collection.verbose_sec, its kernel log, then restored",
  run: (ctx) => verboseWindow(ctx, defaultVerbosePaths()),
});
