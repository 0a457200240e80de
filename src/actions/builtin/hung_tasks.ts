// Tasks stuck in the kernel: every task in D state, and every task in S state
// whose kernel stack has file-share frames (cifs, smb, nfs, sunrpc, netfs: a
// reader waiting for a reconnect sleeps interruptibly), with wchan, how long it
// has run and its kernel stack; file-share ones first, at most MAX_TASKS.
// Pure /proc reads (stat, wchan, stack), no subprocess. Kernel stacks need root.
import { readFile } from "node:fs/promises";
import { numericEntries, parseStat, readProc, readUptimeSec, type TaskStat, USER_HZ } from "../../host/procfs";
import { errorCode, errorMessage } from "../../util/errors";
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";
import { breather, oneLine, TextOutput } from "../text-output";

export const MAX_TASKS = 200;

/** Modules of file-share clients and the layers under them, as a stack frame names them ("... [cifs]"). */
const SHARE_MODULES = new Set([
  "cifs",
  "nfs",
  "nfsv2",
  "nfsv3",
  "nfsv4",
  "sunrpc",
  "lockd",
  "auth_rpcgss",
  "rpcsec_gss_krb5",
  "netfs",
  "fscache",
]);
/** The same code built into the kernel (no module tag): its function names. */
const SHARE_FUNCTION = /^_*(cifs|smb[23]?|nfs[234]?|rpc|xprt|nlm|netfs|fscache)_/;

/** Whether one line of /proc/<pid>/stack ("[<0>] func+0x1/0x2 [module]") is a file-share frame. */
export function isShareFrame(frame: string): boolean {
  const m = /^\[<[0-9a-fx]+>\]\s+([^+\s]+)\S*(?:\s+\[([^\]]+)\])?/.exec(frame.trim());
  if (!m) return false;
  return (m[2] !== undefined && SHARE_MODULES.has(m[2])) || SHARE_FUNCTION.test(m[1]!);
}

export interface HungTask {
  pid: number;
  tid: number;
  comm: string;
  state: string;
  kthread: boolean;
  startTicks: number;
  wchan?: string;
  /** Frames, or why the stack could not be read. */
  stack: string[] | { error: string };
  share: boolean;
}

export interface TaskScan {
  /** Tasks with file-share frames, D and S (at most max). */
  share: HungTask[];
  /** Other tasks in D state (at most max). */
  otherD: HungTask[];
  counts: { tasks: number; shareD: number; shareS: number; otherD: number; sUnchecked: number };
  /** Why S-state tasks could not be checked, when no kernel stack was readable. */
  stackError?: string;
  /** The last error reading a kernel stack. */
  lastStackError?: string;
  /** The stack whose read hung (no further stacks were read). */
  stackTimeout?: string;
  /** The deadline came during the scan. */
  stopped: boolean;
}

/** How long one kernel stack read may take before the scan stops reading stacks. */
export const STACK_READ_TIMEOUT_MS = 1000;
const STACK_READS_AT_ONCE = 16;

/**
 * One kernel stack, read off the event loop: before Linux 5.7 reading it takes
 * the task's cred_guard_mutex, which an execve of a binary on a dead share
 * holds, so the read can block for as long as the share is gone.
 */
async function readStack(path: string, timeoutMs: number): Promise<string[] | { error: string } | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const read = readFile(path, "utf8").then(
    (text) => text.split("\n").filter((l) => l.trim()),
    (e) => ({ error: errorCode(e) ?? errorMessage(e) }),
  );
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Walks <proc>/<pid>/task/<tid> for D tasks and S tasks with file-share frames. */
export async function scanTasks(
  proc: string,
  signal: AbortSignal,
  max = MAX_TASKS,
  stackTimeoutMs = STACK_READ_TIMEOUT_MS,
): Promise<TaskScan> {
  const scan: TaskScan = {
    share: [],
    otherD: [],
    counts: { tasks: 0, shareD: 0, shareS: 0, otherD: 0, sUnchecked: 0 },
    stopped: false,
  };
  // 1. Every task's state (/proc/<pid>/task/<tid>/stat never blocks): the D and S ones.
  const sleeping: { pid: number; tid: number; stat: TaskStat }[] = [];
  let n = 0;
  for (const pid of numericEntries(proc)) {
    if (++n % 64 === 0) await breather();
    if (signal.aborted) break;
    for (const tid of numericEntries(`${proc}/${pid}/task`)) {
      const stat = parseStat(readProc(`${proc}/${pid}/task/${tid}/stat`) ?? "");
      if (!stat) continue; // gone since readdir
      scan.counts.tasks++;
      if (stat.state === "D" || stat.state === "S") sleeping.push({ pid, tid, stat });
    }
  }
  // 2. Their kernel stacks, a few at a time; after one read that hangs, no more.
  let stacksRead = 0;
  let next = 0;
  // Read out of order, kept in pid order (only the tasks listed: other S tasks' stacks are dropped).
  const found: (HungTask | undefined)[] = [];
  const reader = async () => {
    while (next < sleeping.length && !signal.aborted) {
      const i = next++;
      const { pid, tid, stat } = sleeping[i]!;
      const dir = `${proc}/${pid}/task/${tid}`;
      const got = scan.stackTimeout
        ? { error: "not read: an earlier stack read hung" }
        : await readStack(`${dir}/stack`, stackTimeoutMs);
      let stack: string[] | { error: string };
      if (got === "timeout") {
        scan.stackTimeout = `${dir}/stack`;
        stack = { error: `read timed out after ${stackTimeoutMs} ms` };
      } else stack = got;
      if (Array.isArray(stack)) stacksRead++;
      else scan.lastStackError = stack.error;
      const share = Array.isArray(stack) && stack.some(isShareFrame);
      if (stat.state === "S" && !share) {
        if (!Array.isArray(stack)) scan.counts.sUnchecked++;
        continue;
      }
      found[i] = {
        pid,
        tid,
        comm: stat.comm,
        state: stat.state,
        kthread: stat.kthread,
        startTicks: stat.startTicks,
        wchan: readProc(`${dir}/wchan`)?.trim() || undefined,
        stack,
        share,
      };
    }
  };
  await Promise.all(Array.from({ length: STACK_READS_AT_ONCE }, reader));
  for (const task of found) {
    if (!task) continue;
    if (task.share) {
      if (task.state === "D") scan.counts.shareD++;
      else scan.counts.shareS++;
      if (scan.share.length < max) scan.share.push(task);
    } else {
      scan.counts.otherD++;
      if (scan.otherD.length < max) scan.otherD.push(task);
    }
  }
  scan.stopped = signal.aborted;
  if (stacksRead === 0 && scan.lastStackError && !scan.stackTimeout) scan.stackError = scan.lastStackError;
  return scan;
}

/** The tasks to show, in order: file-share frames first (D before S), then the other D tasks; at most max. */
export function orderTasks(scan: TaskScan, max = MAX_TASKS): HungTask[] {
  const byId = (a: HungTask, b: HungTask) => a.pid - b.pid || a.tid - b.tid;
  const share = [...scan.share].sort((a, b) => Number(b.state === "D") - Number(a.state === "D") || byId(a, b));
  return [...share, ...[...scan.otherD].sort(byId)].slice(0, max);
}

export function formatTasks(scan: TaskScan, uptimeSec: number | undefined, nowMs: number, capBytes: number) {
  const out = new TextOutput(capBytes);
  const shown = orderTasks(scan);
  const c = scan.counts;
  const total = c.shareD + c.shareS + c.otherD;
  out.add(
    "# hung_tasks: tasks in D state, and tasks in S state with file-share frames (cifs, smb, nfs, sunrpc, netfs)\n" +
      `# in their kernel stack; file-share ones first, at most ${MAX_TASKS}. From /proc at ${new Date(nowMs).toISOString()}.\n` +
      `# ${c.tasks} tasks scanned: ${c.shareD + c.shareS} with file-share frames (${c.shareD} D, ${c.shareS} S), ${c.otherD} other in D` +
      (total > shown.length ? `; ${shown.length} shown, ${total - shown.length} left out` : "") +
      "\n",
  );
  if (scan.stackError)
    out.add(`# kernel stacks unreadable (${scan.stackError}; they need root): S-state tasks could not be checked\n`);
  else if (c.sUnchecked)
    out.add(`# ${c.sUnchecked} S-state tasks not checked: kernel stack unreadable (${scan.lastStackError})\n`);
  if (scan.stopped) out.add("# the deadline came during the scan: the list is partial\n");
  if (scan.stackTimeout)
    out.add(
      `# reading ${scan.stackTimeout} hung (a task in execve of a file on a dead share holds its exec lock on kernels before 5.7): no further stacks read\n`,
    );
  if (uptimeSec === undefined) out.add("# /proc/uptime unreadable: running times unknown\n");
  if (!shown.length) out.add("\nno such tasks\n");
  let written = 0;
  for (const t of shown) {
    const running = uptimeSec === undefined ? "?" : Math.max(0, uptimeSec - t.startTicks / USER_HZ).toFixed(1);
    const head =
      `\npid=${t.pid} tid=${t.tid} comm=${JSON.stringify(t.comm)} state=${t.state} wchan=${oneLine(t.wchan ?? "?")}` +
      ` running_sec=${running} share_frames=${t.share ? "yes" : "no"}${t.kthread ? " kernel_thread=yes" : ""}\n`;
    const body = Array.isArray(t.stack)
      ? t.stack.map((f) => `  ${f.trim()}\n`).join("")
      : `  (kernel stack unreadable: ${t.stack.error})\n`;
    if (!out.add(head + body)) break;
    written++;
  }
  const note =
    written < shown.length ? `output cap reached after ${written} of ${shown.length} tasks` : scan.stackError;
  return out.output(note ? { note } : {});
}

async function run(ctx: ActionContext): Promise<ActionOutput> {
  const scan = await scanTasks("/proc", ctx.signal);
  return formatTasks(scan, readUptimeSec(), Date.now(), ctx.capBytes);
}

export const hung_tasks = defineAction({
  name: "hung_tasks",
  file: "hung_tasks.log",
  what: "tasks in D state and S tasks waiting in cifs/nfs/sunrpc, with wchan, age and kernel stack",
  run,
});
