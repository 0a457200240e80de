// Where the verbose windows find the kernel's knobs and keep their records,
// one state file per kind. Tests pass temp files for the kernel's.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { KindPaths } from "./kind";

/** Dynamic debug's control file: in debugfs, or in /proc on kernels that have it there. */
export const CONTROL_PATHS = ["/sys/kernel/debug/dynamic_debug/control", "/proc/dynamic_debug/control"];
/** cifs_verbose's record (the name it has always had: a leftover of an older aod is still restored). */
export const STATE_FILE_NAME = "verbose-state.json";
/** nfs_verbose's record. */
export const NFS_STATE_FILE_NAME = "nfs-verbose-state.json";

export interface VerbosePaths extends KindPaths {
  /** /proc/fs/cifs/cifsFYI */
  fyi: string;
  /** The dynamic debug control file; undefined when the kernel has none. */
  control: string | undefined;
}

export interface NfsVerbosePaths extends KindPaths {
  /** /proc/sys/sunrpc/nfs_debug: the NFS client's dprintk flags. */
  nfsDebug: string;
  /** /proc/sys/sunrpc/rpc_debug: the RPC layer's dprintk flags. */
  rpcDebug: string;
}

const stateDir = () => process.env.AOD_STATE_DIR || "/var/lib/aod";

export function defaultVerbosePaths(): VerbosePaths {
  return {
    fyi: "/proc/fs/cifs/cifsFYI",
    control: CONTROL_PATHS.find((p) => existsSync(p)),
    stateFile: join(stateDir(), STATE_FILE_NAME),
    kmsg: "/dev/kmsg",
  };
}

export function defaultNfsVerbosePaths(): NfsVerbosePaths {
  return {
    nfsDebug: "/proc/sys/sunrpc/nfs_debug",
    rpcDebug: "/proc/sys/sunrpc/rpc_debug",
    stateFile: join(stateDir(), NFS_STATE_FILE_NAME),
    kmsg: "/dev/kmsg",
  };
}
