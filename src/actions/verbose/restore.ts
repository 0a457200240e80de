// Putting recorded settings back: at the end of a window, before a window when
// an earlier one was left open, and at the daemon's start after a crash.
import { existsSync } from "node:fs";
import { errorMessage } from "../../util/errors";
import { restoreDynamicDebug } from "./dynamic-debug";
import { writeFyi } from "./fyi";
import type { VerbosePaths } from "./paths";
import type { SavedSettings } from "./state-file";

/** Puts recorded settings back; what was done, and what failed. */
export function restoreSettings(saved: SavedSettings, paths: VerbosePaths): { done: string[]; errors: string[] } {
  const done: string[] = [];
  const errors: string[] = [];
  if (saved.cifsFYI !== null) {
    if (!existsSync(paths.fyi)) done.push("cifsFYI: the cifs module is gone (nothing to restore)");
    else
      try {
        writeFyi(paths.fyi, saved.cifsFYI);
        done.push(`cifsFYI back to ${saved.cifsFYI}`);
      } catch (e) {
        errors.push(`cifsFYI: ${errorMessage(e)}`);
      }
  }
  const dd = saved.dynamic_debug;
  if (dd) {
    if (!paths.control || !existsSync(paths.control))
      done.push("dynamic debug: no control file now (nothing to restore)");
    else
      try {
        done.push(restoreDynamicDebug(paths.control, dd));
      } catch (e) {
        errors.push(`dynamic debug: ${errorMessage(e)}`);
      }
  }
  return { done, errors };
}
