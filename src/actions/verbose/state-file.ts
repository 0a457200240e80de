// The record of the previous values: written before anything is raised
// (<AOD_STATE_DIR or /var/lib/aod>/<the kind's file>, 0600 in a 0700 dir), and
// flock()ed while the window is open. After a crash or a kill -9 the lock is
// gone with the process, and restoreVerboseLeftovers() puts the recorded
// values back. What a record holds besides its RecordBase is the kind's.
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { errno, libc } from "../../native/libc";
import { errorMessage } from "../../util/errors";
import type { RecordBase } from "./kind";

/** A record read back: its base checked here, the kind's values by `values`. Undefined when either is invalid. */
export function parseRecord<V extends object>(
  text: string,
  values: (record: Record<string, unknown>) => V | undefined,
): (RecordBase & V) | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) return undefined;
  const r = j as Record<string, unknown>;
  if (r.version !== 1 || typeof r.pid !== "number" || typeof r.raised_at !== "string") return undefined;
  const v = values(r);
  return v && { version: 1, pid: r.pid, raised_at: r.raised_at, ...v };
}

/** Creates (0600, in a 0700 dir) and locks the record; the reason nothing may be raised when it cannot. */
export function openRecord(path: string): { fd: number } | { error: string } {
  let fd: number | undefined;
  try {
    ensureStateDir(dirname(path));
    fd = lockStateFile(path, true);
    if (fd !== undefined) fchmodSync(fd, 0o600);
  } catch (e) {
    if (fd !== undefined) closeSync(fd); // drops the lock with it
    return { error: `cannot record the previous settings (${errorMessage(e)}): nothing raised` };
  }
  if (fd === undefined)
    return { error: `another aod process has a verbose window open (${path} is locked): nothing raised` };
  return { fd };
}

/** Replaces the record, on disk before this returns. */
export function writeRecord(fd: number, saved: RecordBase): void {
  ftruncateSync(fd, 0);
  writeSync(fd, `${JSON.stringify(saved)}\n`, 0);
  fsyncSync(fd);
}

/** Creates the state dir 0700; refuses one that is a symlink or not ours. */
function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (st.uid !== process.geteuid!()) throw new Error(`${dir} is owned by uid ${st.uid}`);
  if (st.mode & 0o077) chmodSync(dir, 0o700);
}

const LOCK_EX = 2;
const LOCK_NB = 4;

/** Opens and locks the state file; undefined when another process holds the lock. */
export function lockStateFile(path: string, create: boolean): number | undefined {
  for (let attempt = 0; attempt < 3; attempt++) {
    const fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW | (create ? constants.O_CREAT : 0), 0o600);
    if (libc.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      const e = errno();
      closeSync(fd);
      if (e === 11 /* EWOULDBLOCK */) return undefined;
      throw new Error(`cannot lock ${path}: errno ${e}`);
    }
    // The holder before us may have removed the file after we opened it: lock the one at the path.
    try {
      const here = lstatSync(path);
      const mine = fstatSync(fd);
      if (here.ino === mine.ino && here.dev === mine.dev) return fd;
    } catch {}
    closeSync(fd);
  }
  throw new Error(`${path} keeps changing`);
}

export function readFd(fd: number): string {
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, buf, got, size - got, got);
    if (n <= 0) break;
    got += n;
  }
  return buf.toString("utf8", 0, got);
}
