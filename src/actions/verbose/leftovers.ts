// A window that a crash or a kill -9 left open: its lock went with the process,
// and the daemon calls restoreVerboseLeftovers() once when it starts.
import { closeSync, existsSync, fstatSync, unlinkSync } from "node:fs";
import { errorCode, errorMessage } from "../../util/errors";
import { defaultVerbosePaths, type VerbosePaths } from "./paths";
import { restoreSettings } from "./restore";
import { windowOpen } from "./session";
import { lockStateFile, parseSaved, readFd } from "./state-file";

/**
 * Undoes a verbose window that a crash or kill left open (the state file is
 * there and nobody holds its lock). Returns what it did, for a log line;
 * undefined when there was nothing to do. Never throws.
 */
export function restoreVerboseLeftovers(paths: VerbosePaths = defaultVerbosePaths()): string | undefined {
  if (windowOpen()) return undefined; // this process's own window is open
  const file = paths.stateFile;
  try {
    if (!existsSync(file)) return undefined;
    const fd = lockStateFile(file, false);
    if (fd === undefined) return `a cifs_verbose window of another aod process is open (${file} is locked): left alone`;
    try {
      return restoreLocked(fd, file, paths);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (errorCode(e) === "ENOENT") return undefined; // gone since existsSync
    return `could not restore cifs_verbose settings from ${file}: ${errorMessage(e)}`;
  }
}

/** Restores from the record this process has locked; removes it unless something failed. */
function restoreLocked(fd: number, file: string, paths: VerbosePaths): string {
  const st = fstatSync(fd);
  if (st.uid !== process.geteuid!() || st.mode & 0o022)
    return `ignored ${file}: not owned by uid ${process.geteuid!()} or writable by others`;
  const text = readFd(fd);
  const saved = parseSaved(text);
  if (!saved) {
    unlinkSync(file);
    return text.trim()
      ? `removed ${file}: not a record aod wrote; nothing restored`
      : `removed an empty ${file} (the run ended before raising anything)`;
  }
  const { done, errors } = restoreSettings(saved, paths);
  if (!errors.length) unlinkSync(file);
  const what = `cifs_verbose window of pid ${saved.pid} (raised ${saved.raised_at}) was left open`;
  return errors.length
    ? `${what}; restore failed (${errors.join("; ")}), ${file} kept for the next start${done.length ? `; done: ${done.join("; ")}` : ""}`
    : `${what}; restored: ${done.join("; ") || "nothing was raised"}`;
}
