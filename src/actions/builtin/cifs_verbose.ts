// cifs_verbose: for collection.verbose_sec after an anomaly, the cifs client
// logs verbosely (cifsFYI 7, and `module cifs +p` in dynamic debug, without
// which the FYI messages never reach the log); the kernel log lines of that
// window are the action's output; then exactly the previous settings return.
//
// The previous settings are recorded on disk before anything is raised
// (<AOD_STATE_DIR or /var/lib/aod>/verbose-state.json, 0600 in a 0700 dir),
// and the file stays flock()ed while the window is open. After a crash or a
// kill -9 the lock is gone with the process, and restoreVerboseLeftovers()
// (called once when the daemon starts) puts the recorded settings back. An
// abort (deadline, SIGTERM) restores at once. Anomalies that overlap share one
// raised window: the settings come back when the last of them ends.
//
// The machinery is in src/actions/verbose/: paths.ts (where the knobs are),
// fyi.ts (cifsFYI), dynamic-debug.ts (the control file, and restoring it per
// callsite), state-file.ts (the record and its lock), restore.ts (putting a
// record back), session.ts (raising, and sharing one window), leftovers.ts (a
// window a crash left open), kmsg-window.ts and window.ts (the window itself).
import { defineAction } from "../spec";
import { defaultVerbosePaths } from "../verbose/paths";
import { verboseWindow } from "../verbose/window";

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
export { acquireVerbose, releaseVerbose } from "../verbose/session";
export { parseSaved, type SavedSettings } from "../verbose/state-file";
export { verboseWindow } from "../verbose/window";

export const cifs_verbose = defineAction({
  name: "cifs_verbose",
  file: "cifs_verbose.log",
  what: "cifs verbose logging (cifsFYI, dynamic debug) for collection.verbose_sec, its kernel log, then restored",
  run: (ctx) => verboseWindow(ctx, defaultVerbosePaths()),
});
