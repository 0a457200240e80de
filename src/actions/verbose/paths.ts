// Where cifs_verbose finds the kernel's knobs and keeps its record. Tests pass
// temp files for the kernel's.
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Dynamic debug's control file: in debugfs, or in /proc on kernels that have it there. */
export const CONTROL_PATHS = ["/sys/kernel/debug/dynamic_debug/control", "/proc/dynamic_debug/control"];
export const STATE_FILE_NAME = "verbose-state.json";

export interface VerbosePaths {
  /** /proc/fs/cifs/cifsFYI */
  fyi: string;
  /** The dynamic debug control file; undefined when the kernel has none. */
  control: string | undefined;
  /** Where the previous settings are recorded while the window is open. */
  stateFile: string;
  /** The kernel log device. */
  kmsg: string;
}

export function defaultVerbosePaths(): VerbosePaths {
  return {
    fyi: "/proc/fs/cifs/cifsFYI",
    control: CONTROL_PATHS.find((p) => existsSync(p)),
    stateFile: join(process.env.AOD_STATE_DIR || "/var/lib/aod", STATE_FILE_NAME),
    kmsg: "/dev/kmsg",
  };
}
