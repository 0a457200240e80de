// The bundle directory holds sensitive data and is written by root: it must be
// ours (no symlink, not owned by someone else), 0700, files 0600.
import { chmodSync, lstatSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { AodError, errorCode, errorMessage } from "../util/errors";

export const BATCHES = "batches";

function checkOwned(dir: string): void {
  const st = lstatSync(dir);
  const uid = process.geteuid?.() ?? 0;
  if (st.isSymbolicLink())
    throw new AodError(
      `refusing output dir ${dir}: it is a symlink (a symlinked dir lets another user redirect root's writes). Use the real path in aod_output_dir.`,
      2,
    );
  if (!st.isDirectory()) throw new AodError(`refusing output dir ${dir}: not a directory`, 2);
  if (st.uid !== uid)
    throw new AodError(
      `refusing output dir ${dir}: owned by uid ${st.uid}, not ${uid === 0 ? "root" : `uid ${uid}`}. Fix: chown ${uid} ${dir}, or choose another aod_output_dir.`,
      2,
    );
}

/** Creates (0700) or checks `<dir>` and `<dir>/batches`; returns the batches path. */
export function ensureOutputDir(dir: string): string {
  const batches = join(dir, BATCHES);
  for (const d of [dir, batches]) {
    try {
      lstatSync(d);
    } catch (e) {
      if (errorCode(e) !== "ENOENT") throw new AodError(`cannot use output dir ${d}: ${errorMessage(e)}`, 2);
      mkdirSync(dirname(d), { recursive: true, mode: 0o755 });
      mkdirSync(d, { mode: 0o700 });
    }
    checkOwned(d);
    if ((lstatSync(d).mode & 0o777) !== 0o700) chmodSync(d, 0o700);
  }
  return batches;
}
