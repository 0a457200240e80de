// Small /proc readers for the actions that look at tasks: a task's name, state
// and start time from /proc/<pid>/stat, the uptime, and reads that return
// undefined instead of throwing (a task may exit between readdir and read).
// None of them touches a task's memory: /proc/<pid>/cmdline, environ and maps
// take its mm lock and can block behind a task stuck in a page fault on a share.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * Clock ticks per second of the times in /proc/<pid>/stat: USER_HZ, which is
 * 100 on x86-64 (what sysconf(_SC_CLK_TCK) returns; src/native/libc.ts has no
 * sysconf binding, and running getconf would be a subprocess).
 */
export const USER_HZ = 100;

/** The kernel-thread bit of /proc/<pid>/stat's flags (PF_KTHREAD). */
const PF_KTHREAD = 0x00200000;

export interface TaskStat {
  comm: string;
  /** One letter: R, S, D, T, t, Z, X, I, ... */
  state: string;
  ppid: number;
  /** Start time in clock ticks after boot (field 22). */
  startTicks: number;
  kthread: boolean;
}

/** /proc/<pid>/stat's fields; comm is what lies between the first "(" and the last ")". */
export function parseStat(text: string): TaskStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  // After ") ": field 3 (state) is rest[0], so field n is rest[n - 3].
  const rest = text.slice(close + 2).split(" ");
  const state = rest[0];
  const startTicks = Number(rest[19]);
  if (!state || !Number.isFinite(startTicks)) return undefined;
  return {
    comm: text.slice(open + 1, close),
    state,
    ppid: Number(rest[1]),
    startTicks,
    kthread: (Number(rest[6]) & PF_KTHREAD) !== 0,
  };
}

/** A file's text, or undefined when it cannot be read (gone, not permitted). */
export function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** A symlink's target, or undefined. Only the link is read: its target is never touched. */
export function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Seconds since boot (/proc/uptime's first field). */
export function readUptimeSec(proc = "/proc"): number | undefined {
  const n = Number.parseFloat(readProc(`${proc}/uptime`) ?? "");
  return Number.isFinite(n) ? n : undefined;
}

/** Numeric entries of a /proc directory (pids, tids, fds), ascending; [] when unreadable. */
export function numericEntries(dir: string): number[] {
  try {
    return readdirSync(dir)
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}
