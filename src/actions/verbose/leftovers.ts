// Windows that a crash or a kill -9 left open: their locks went with the
// process, and the daemon calls restoreVerboseLeftovers() once when it starts.
// It restores every kind's record: cifs_verbose's and nfs_verbose's.
import { closeSync, existsSync, fstatSync, unlinkSync } from "node:fs";
import { errorCode, errorMessage } from "../../util/errors";
import { cifsKind } from "./cifs";
import type { KindPaths, VerboseKind } from "./kind";
import { defaultNfsVerbosePaths, defaultVerbosePaths, type NfsVerbosePaths, type VerbosePaths } from "./paths";
import { windowOpen } from "./session";
import { lockStateFile, parseRecord, readFd } from "./state-file";
import { sunrpcKind } from "./sunrpc";

/**
 * Undoes the verbose windows (cifs_verbose's, nfs_verbose's) that a crash or
 * kill left open: a state file is there and nobody holds its lock. Returns
 * what it did, one line per kind, for a log line; undefined when there was
 * nothing to do. Never throws.
 */
export function restoreVerboseLeftovers(
  cifs: VerbosePaths = defaultVerbosePaths(),
  nfs: NfsVerbosePaths = defaultNfsVerbosePaths(),
): string | undefined {
  const done = [restoreLeftover(cifsKind, cifs), restoreLeftover(sunrpcKind, nfs)].filter((m) => m !== undefined);
  return done.length ? done.join("\n") : undefined;
}

/** One kind's leftover window; what was done, or undefined when there was none. Never throws. */
export function restoreLeftover<P extends KindPaths, V extends object>(
  kind: VerboseKind<P, V, unknown>,
  paths: P,
): string | undefined {
  if (windowOpen(kind)) return undefined; // this process's own window is open
  const file = paths.stateFile;
  try {
    if (!existsSync(file)) return undefined;
    const fd = lockStateFile(file, false);
    if (fd === undefined)
      return `a ${kind.action} window of another aod process is open (${file} is locked): left alone`;
    try {
      return restoreLocked(kind, fd, paths);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (errorCode(e) === "ENOENT") return undefined; // gone since existsSync
    return `could not restore ${kind.action} settings from ${file}: ${errorMessage(e)}`;
  }
}

/** Restores from the record this process has locked; removes it unless something failed. */
function restoreLocked<P extends KindPaths, V extends object>(
  kind: VerboseKind<P, V, unknown>,
  fd: number,
  paths: P,
): string {
  const file = paths.stateFile;
  const st = fstatSync(fd);
  if (st.uid !== process.geteuid!() || st.mode & 0o022)
    return `ignored ${file}: not owned by uid ${process.geteuid!()} or writable by others`;
  const text = readFd(fd);
  const saved = parseRecord(text, kind.parse);
  if (!saved) {
    unlinkSync(file);
    return text.trim()
      ? `removed ${file}: not a record aod wrote; nothing restored`
      : `removed an empty ${file} (the run ended before raising anything)`;
  }
  const { done, errors } = kind.restore(saved, paths);
  if (!errors.length) unlinkSync(file);
  const what = `${kind.action} window of pid ${saved.pid} (raised ${saved.raised_at}) was left open`;
  return errors.length
    ? `${what}; restore failed (${errors.join("; ")}), ${file} kept for the next start${done.length ? `; done: ${done.join("; ")}` : ""}`
    : `${what}; restored: ${done.join("; ") || "nothing was raised"}`;
}
