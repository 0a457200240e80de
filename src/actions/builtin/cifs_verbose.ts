// cifs_verbose: for collection.verbose_sec after an anomaly, the cifs client
// logs verbosely (cifsFYI 7, and `module cifs +p` in dynamic debug, without
// which the FYI messages never reach the log); the kernel log lines of that
// window are the action's output; then exactly the previous settings return.
//
// The previous settings are recorded on disk before anything is raised
// (<AOD_STATE_DIR or /var/lib/aod>/verbose-state.json, 0600 in a 0700 dir),
// and the file stays flock()ed while the window is open. After a crash or a
// kill -9 the lock is gone with the process, and restoreVerboseLeftovers()
// (called once when the daemon starts) puts the recorded settings back. An
// abort (deadline, SIGTERM) restores at once. Anomalies that overlap share one
// raised window: the settings come back when the last of them ends.
//
// Dynamic debug is restored per callsite: if no cifs callsite printed before,
// `module cifs -p`; otherwise `file F line N -p` for each file:line on which no
// callsite printed before (callsites already on stay on). Other flags (f, l, m,
// t) are never changed.
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { errno, libc, monotonicNs, realtimeNs } from "../../native/libc";
import { errorCode, errorMessage } from "../../util/errors";
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";
import { oneLine, TextOutput } from "../text-output";

/** cifsFYI while the window is open: CIFS_INFO | CIFS_RC | CIFS_TIMER. */
export const FYI_RAISED = "7";
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

// ---- dynamic debug ----

export interface Callsite {
  file: string;
  line: number;
  module: string;
  func: string;
  /** "_" for none; "p" means it prints. */
  flags: string;
}

/** The callsites of one module in the control file ("file:line [module]func =flags \"format\""). */
export function parseControl(text: string, module = "cifs"): Callsite[] {
  const out: Callsite[] = [];
  for (const l of text.split("\n")) {
    const m = /^(\S+):(\d+) \[([^\]]+)\](\S*) =(\S+)/.exec(l);
    if (m && m[3] === module) out.push({ file: m[1]!, line: Number(m[2]), module: m[3], func: m[4]!, flags: m[5]! });
  }
  return out;
}

export type DynamicDebugSaved = { all_off: true; callsites: number } | { all_off: false; off: [string, number][] };

/** What restoring needs: all off before, or the file:line pairs on which nothing printed before. */
export function dynamicDebugBefore(callsites: readonly Callsite[]): DynamicDebugSaved {
  const on = new Set(callsites.filter((c) => c.flags.includes("p")).map((c) => `${c.file}:${c.line}`));
  if (!on.size) return { all_off: true, callsites: callsites.length };
  const off = new Map<string, [string, number]>();
  for (const c of callsites) {
    const key = `${c.file}:${c.line}`;
    if (!on.has(key)) off.set(key, [c.file, c.line]);
  }
  return { all_off: false, off: [...off.values()] };
}

/** The control-file queries that undo `module cifs +p`. */
export function restoreQueries(dd: DynamicDebugSaved): string[] {
  return dd.all_off ? ["module cifs -p"] : dd.off.map(([f, l]) => `file ${f} line ${l} -p`);
}

/** Writes queries to the control file, several per write(2) (the kernel takes < 4 KiB per write). */
function writeQueries(control: string, queries: readonly string[]): void {
  const fd = openSync(control, constants.O_WRONLY | constants.O_APPEND);
  try {
    let batch = "";
    const flush = () => {
      if (batch) writeSync(fd, batch);
      batch = "";
    };
    for (const q of queries) {
      if (batch.length + q.length + 1 > 4000) flush();
      batch += `${q}\n`;
    }
    flush();
  } finally {
    closeSync(fd);
  }
}

function writeValue(path: string, value: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

// ---- the record on disk ----

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
  if (s.cifsFYI !== null && !(typeof s.cifsFYI === "string" && /^[0-9]$/.test(s.cifsFYI))) return undefined;
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
function lockStateFile(path: string, create: boolean): number | undefined {
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

function readFd(fd: number): string {
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

/** Puts recorded settings back; what was done, and what failed. */
function restoreSettings(saved: SavedSettings, paths: VerbosePaths): { done: string[]; errors: string[] } {
  const done: string[] = [];
  const errors: string[] = [];
  if (saved.cifsFYI !== null) {
    if (!existsSync(paths.fyi)) done.push("cifsFYI: the cifs module is gone (nothing to restore)");
    else
      try {
        writeValue(paths.fyi, saved.cifsFYI);
        done.push(`cifsFYI back to ${saved.cifsFYI}`);
      } catch (e) {
        errors.push(`cifsFYI: ${errorMessage(e)}`);
      }
  }
  const dd = saved.dynamic_debug;
  if (dd) {
    if (!paths.control || !existsSync(paths.control))
      done.push("dynamic debug: no control file now (nothing to restore)");
    else
      try {
        const queries = restoreQueries(dd);
        writeQueries(paths.control, queries);
        done.push(
          dd.all_off
            ? "dynamic debug: module cifs -p (no cifs callsite printed before)"
            : `dynamic debug: -p on the ${queries.length} cifs file:line places that did not print before (the others stay +p)`,
        );
      } catch (e) {
        errors.push(`dynamic debug: ${errorMessage(e)}`);
      }
  }
  return { done, errors };
}

/**
 * Undoes a verbose window that a crash or kill left open (the state file is
 * there and nobody holds its lock). Returns what it did, for a log line;
 * undefined when there was nothing to do. Never throws.
 */
export function restoreVerboseLeftovers(paths: VerbosePaths = defaultVerbosePaths()): string | undefined {
  if (session) return undefined; // this process's own window is open
  const file = paths.stateFile;
  try {
    if (!existsSync(file)) return undefined;
    const fd = lockStateFile(file, false);
    if (fd === undefined) return `a cifs_verbose window of another aod process is open (${file} is locked): left alone`;
    try {
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
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (errorCode(e) === "ENOENT") return undefined; // gone since existsSync
    return `could not restore cifs_verbose settings from ${file}: ${errorMessage(e)}`;
  }
}

// ---- the window ----

interface Session {
  paths: VerbosePaths;
  saved: SavedSettings;
  fd: number;
  holders: number;
  /** What was raised, for the output. */
  raised: string[];
}
let session: Session | undefined;

/** Records the previous settings, then raises them; or joins the open window of this process. */
export function acquireVerbose(paths: VerbosePaths): { raised: string[]; joined: boolean } | { error: string } {
  if (session) {
    if (session.paths.stateFile !== paths.stateFile) return { error: "a window on other paths is open" };
    session.holders++;
    return { raised: session.raised, joined: true };
  }
  const hasFyi = existsSync(paths.fyi);
  let callsites: Callsite[] = [];
  let controlError: string | undefined;
  if (paths.control)
    try {
      callsites = parseControl(readFileSync(paths.control, "utf8"));
    } catch (e) {
      controlError = `${paths.control}: ${errorCode(e) ?? errorMessage(e)}`;
    }
  if (!hasFyi && !callsites.length)
    return { error: `the cifs module is not loaded (no ${paths.fyi}, no cifs callsites): nothing raised` };
  let fd: number | undefined;
  try {
    ensureStateDir(dirname(paths.stateFile));
    fd = lockStateFile(paths.stateFile, true);
    if (fd !== undefined) fchmodSync(fd, 0o600);
  } catch (e) {
    return { error: `cannot record the previous settings (${errorMessage(e)}): nothing raised` };
  }
  if (fd === undefined)
    return { error: `another aod process has a verbose window open (${paths.stateFile} is locked): nothing raised` };
  const raised: string[] = [];
  try {
    // A record nobody restored (a crash, and no daemon start since): its values are the real previous ones.
    const left = parseSaved(readFd(fd));
    if (left) {
      const r = restoreSettings(left, paths);
      if (r.errors.length) throw new Error(`restoring an earlier window's settings failed: ${r.errors.join("; ")}`);
      raised.push(`restored first, from an earlier window left open: ${r.done.join("; ")}`);
    }
    let fyiBefore: string | null = null;
    if (hasFyi) {
      const v = readFileSync(paths.fyi, "utf8").trim();
      if (/^[0-9]$/.test(v)) fyiBefore = v;
      else raised.push(`cifsFYI reads ${JSON.stringify(v)}, which /proc cannot set back: left alone`);
    }
    const saved: SavedSettings = {
      version: 1,
      pid: process.pid,
      raised_at: new Date().toISOString(),
      cifsFYI: fyiBefore,
      dynamic_debug: callsites.length ? dynamicDebugBefore(callsites) : null,
    };
    // Recorded (and on disk) before anything changes.
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(saved)}\n`, 0);
    fsyncSync(fd);
    const errors: string[] = [];
    let failedFyi = false;
    let failedDd = false;
    if (saved.cifsFYI !== null)
      try {
        writeValue(paths.fyi, FYI_RAISED);
        raised.push(`cifsFYI ${saved.cifsFYI} → ${FYI_RAISED}`);
      } catch (e) {
        errors.push(`cifsFYI: ${errorCode(e) ?? errorMessage(e)}`);
        failedFyi = true;
      }
    if (saved.dynamic_debug && paths.control)
      try {
        writeQueries(paths.control, ["module cifs +p"]);
        const on = callsites.filter((c) => c.flags.includes("p")).length;
        raised.push(`dynamic debug: module cifs +p (${callsites.length} callsites, ${on} printing before)`);
      } catch (e) {
        errors.push(`dynamic debug: ${errorCode(e) ?? errorMessage(e)}`);
        failedDd = true;
      }
    else
      raised.push(
        controlError
          ? `dynamic debug unreadable (${controlError}): cifs FYI messages may not reach the log`
          : paths.control
            ? "dynamic debug lists no cifs callsites: cifs FYI messages may not reach the log"
            : "no dynamic debug control file (CONFIG_DYNAMIC_DEBUG off, or debugfs not mounted): cifs FYI messages may not reach the log",
      );
    for (const e of errors) raised.push(`could not raise ${e}`);
    const tried = Number(saved.cifsFYI !== null) + Number(!!(saved.dynamic_debug && paths.control));
    if (errors.length === tried) {
      // Nothing changed: the record goes, and the reason is the output.
      unlinkSync(paths.stateFile);
      closeSync(fd);
      return { error: `nothing could be raised: ${raised.join("; ")}` };
    }
    if (failedFyi || failedDd) {
      // Only what was raised is restored: the record says so too.
      if (failedFyi) saved.cifsFYI = null;
      if (failedDd) saved.dynamic_debug = null;
      ftruncateSync(fd, 0);
      writeSync(fd, `${JSON.stringify(saved)}\n`, 0);
      fsyncSync(fd);
    }
    session = { paths, saved, fd, holders: 1, raised };
    return { raised, joined: false };
  } catch (e) {
    // Nothing raised (or an earlier window's restore failed): the record stays for the next start.
    closeSync(fd);
    return { error: errorMessage(e) };
  }
}

/** Ends one holder's window; the last one restores and removes the record. What was restored, or undefined while others hold it. */
export function releaseVerbose(): string[] | undefined {
  const s = session;
  if (!s || --s.holders > 0) return undefined;
  session = undefined;
  const { done, errors } = restoreSettings(s.saved, s.paths);
  try {
    if (!errors.length) unlinkSync(s.paths.stateFile);
  } catch {}
  closeSync(s.fd);
  return [...done, ...errors.map((e) => `RESTORE FAILED: ${e} (${s.paths.stateFile} kept: the next start retries)`)];
}

/** The kernel log records from a point on, read while the window is open (the ring may wrap before its end). Times as src/actions/kmsg.ts gives them. */
class KmsgWindow {
  private readonly fd: number;
  private readonly bootNs = realtimeNs() - monotonicNs();
  private readonly buf = Buffer.alloc(8192);
  readonly out: TextOutput;
  lines = 0;
  dropped = 0;
  overwritten = 0;

  constructor(path: string, capBytes: number) {
    this.fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.out = new TextOutput(capBytes);
  }

  /**
   * Reads every record available; keeps them when `keep`. Records are told
   * apart by position, not time: the kernel log's clock is not quite
   * CLOCK_MONOTONIC, and a window is seconds long.
   */
  drain(keep: boolean): void {
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        if (errorCode(e) === "EAGAIN") return; // nothing more for now
        if (errorCode(e) === "EPIPE") {
          this.overwritten++; // the ring wrapped past our position
          continue;
        }
        throw e;
      }
      if (n <= 0) return;
      const rec = this.buf.toString("utf8", 0, n);
      const semi = rec.indexOf(";");
      if (!keep) continue;
      const us = Number(rec.slice(0, semi).split(",")[2]);
      const wall = new Date(Number((this.bootNs + BigInt(us) * 1000n) / 1_000_000n)).toISOString();
      if (this.out.add(`${wall} ${oneLine(rec.slice(semi + 1).split("\n")[0]!)}\n`)) this.lines++;
      else this.dropped++;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The action with its paths as parameters (tests use temp files for the kernel's). */
export async function verboseWindow(ctx: ActionContext, paths: VerbosePaths): Promise<ActionOutput> {
  const c = ctx.collection;
  // The window ends 2 s before the action's deadline, leaving time to read the log and restore.
  const windowSec = Number(Math.min(c.verbose_sec, Math.max(0, c.action_timeout_sec - 2)).toFixed(3));
  const head = new TextOutput(64 * 1024);
  head.add(
    `# cifs_verbose: the cifs client's verbose logging for ${windowSec} s after the anomaly, then the previous settings restored\n`,
  );
  if (windowSec < c.verbose_sec)
    head.add(
      `# window cut from verbose_sec ${c.verbose_sec} s to fit collection.action_timeout_sec ${c.action_timeout_sec} s\n`,
    );
  const fail = (why: string): ActionOutput => {
    head.add(`# ${why}\n`);
    return { ...head.output(), note: why };
  };
  let kmsg: KmsgWindow;
  try {
    kmsg = new KmsgWindow(paths.kmsg, Math.max(0, ctx.capBytes - 4096)); // room for the header
  } catch (e) {
    return fail(`kernel log unreadable (${paths.kmsg}: ${errorCode(e) ?? errorMessage(e)}): nothing raised`);
  }
  try {
    kmsg.drain(false); // what the log holds so far is before the window
  } catch (e) {
    kmsg.close();
    return fail(`kernel log unreadable (${paths.kmsg}: ${errorCode(e) ?? errorMessage(e)}): nothing raised`);
  }
  const got = acquireVerbose(paths);
  if ("error" in got) {
    kmsg.close();
    return fail(got.error);
  }
  const raisedAt = new Date();
  let restored: string[] | undefined;
  let released = false;
  const finish = () => {
    if (released) return;
    released = true;
    restored = releaseVerbose();
  };
  ctx.signal.addEventListener("abort", finish, { once: true });
  try {
    const end = performance.now() + windowSec * 1000;
    for (;;) {
      kmsg.drain(true);
      const left = end - performance.now();
      if (left <= 0 || ctx.signal.aborted) break;
      await pause(Math.min(250, left), ctx.signal);
    }
  } finally {
    finish();
    ctx.signal.removeEventListener("abort", finish);
    try {
      kmsg.drain(true);
    } finally {
      kmsg.close();
    }
  }
  head.add(
    `# raised at ${raisedAt.toISOString()}${got.joined ? " (joined the window another anomaly opened)" : ""}: ${got.raised.join("; ")}\n`,
  );
  head.add(
    restored
      ? `# restored at ${new Date().toISOString()}: ${restored.join("; ") || "nothing was raised"}\n`
      : "# still raised for an overlapping anomaly's window: restored when it ends\n",
  );
  head.add(`# the previous settings were recorded in ${paths.stateFile} before raising (removed after the restore)\n`);
  head.add(
    `# kernel log of the window (${paths.kmsg}): ${kmsg.lines} lines` +
      (kmsg.dropped ? `, ${kmsg.dropped} beyond the output cap dropped (the earliest are kept)` : "") +
      (kmsg.overwritten ? `, ${kmsg.overwritten} times the ring overwrote records before they were read` : "") +
      "\n\n",
  );
  const failed = restored?.some((r) => r.startsWith("RESTORE FAILED"));
  const body = kmsg.out.output();
  const all = Buffer.concat([head.output().data, body.data]);
  const data = all.length > ctx.capBytes ? all.subarray(0, ctx.capBytes) : all;
  const out: ActionOutput = { data, truncated: body.truncated || data.length < all.length };
  if (failed) {
    out.note = "restoring the previous settings failed";
    out.exitStatus = 1;
  }
  return out;
}

export const cifs_verbose = defineAction({
  name: "cifs_verbose",
  file: "cifs_verbose.log",
  what: "cifs verbose logging (cifsFYI, dynamic debug) for collection.verbose_sec, its kernel log, then restored",
  run: (ctx) => verboseWindow(ctx, defaultVerbosePaths()),
});
