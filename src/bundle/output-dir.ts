// The bundle directory holds sensitive data and is written by root: it must be
// ours (no symlink, not owned by someone else), 0700, files 0600.
import { chmodSync, lstatSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { AodError, errorCode, errorMessage } from "../util/errors";

export const BATCHES = "batches";

function checkOwned(dir: string, what: string, key: string): void {
  const st = lstatSync(dir);
  const uid = process.geteuid?.() ?? 0;
  if (st.isSymbolicLink())
    throw new AodError(
      `refusing ${what} ${dir}: it is a symlink (a symlinked dir lets another user redirect root's writes). Use the real path in ${key}.`,
      2,
    );
  if (!st.isDirectory()) throw new AodError(`refusing ${what} ${dir}: not a directory`, 2);
  if (st.uid !== uid)
    throw new AodError(
      `refusing ${what} ${dir}: owned by uid ${st.uid}, not ${uid === 0 ? "root" : `uid ${uid}`}. Fix: chown ${uid} ${dir}, or choose another ${key}.`,
      2,
    );
}

/**
 * Creates (0700, parents 0755) or checks a directory aod keeps private data
 * in: ours, no symlink, 0700. `what`/`key` name it in errors.
 */
export function ensurePrivateDir(dir: string, what = "output dir", key = "aod_output_dir"): void {
  try {
    lstatSync(dir);
  } catch (e) {
    if (errorCode(e) !== "ENOENT") throw new AodError(`cannot use ${what} ${dir}: ${errorMessage(e)}`, 2);
    mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
    mkdirSync(dir, { mode: 0o700 });
  }
  checkOwned(dir, what, key);
  if ((lstatSync(dir).mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
}

/** Creates (0700) or checks `<dir>` and `<dir>/batches`; returns the batches path. */
export function ensureOutputDir(dir: string): string {
  const batches = join(dir, BATCHES);
  for (const d of [dir, batches]) ensurePrivateDir(d);
  return batches;
}
