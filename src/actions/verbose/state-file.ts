// The record of the previous settings: written before anything is raised
// (<AOD_STATE_DIR or /var/lib/aod>/verbose-state.json, 0600 in a 0700 dir),
// and flock()ed while the window is open. After a crash or a kill -9 the lock
// is gone with the process, and restoreVerboseLeftovers() puts the recorded
// settings back.
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
import type { DynamicDebugSaved } from "./dynamic-debug";
import { FYI_VALUE } from "./fyi";

export interface SavedSettings {
  version: 1;
  pid: number;
  raised_at: string;
  /** cifsFYI before ("0".."9"); null when it was not raised. */
  cifsFYI: string | null;
  /** null when dynamic debug was not raised. */
  dynamic_debug: DynamicDebugSaved | null;
}

const SAFE_FILE = /^[A-Za-z0-9_./+-]+$/;

/** A record read back, checked before anything of it is written to the kernel. */
export function parseSaved(text: string): SavedSettings | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof j !== "object" || j === null) return undefined;
  const s = j as Partial<SavedSettings>;
  if (s.version !== 1 || typeof s.pid !== "number" || typeof s.raised_at !== "string") return undefined;
  if (s.cifsFYI !== null && !(typeof s.cifsFYI === "string" && FYI_VALUE.test(s.cifsFYI))) return undefined;
  const dd = s.dynamic_debug;
  if (dd !== null) {
    if (typeof dd !== "object" || dd === undefined) return undefined;
    if (dd.all_off === true) {
      if (typeof dd.callsites !== "number") return undefined;
    } else if (dd.all_off === false) {
      if (!Array.isArray(dd.off)) return undefined;
      for (const e of dd.off as unknown[])
        if (
          !Array.isArray(e) ||
          typeof e[0] !== "string" ||
          !SAFE_FILE.test(e[0]) ||
          !Number.isInteger(e[1]) ||
          (e[1] as number) <= 0
        )
          return undefined;
    } else return undefined;
  }
  return s as SavedSettings;
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
export function writeRecord(fd: number, saved: SavedSettings): void {
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
