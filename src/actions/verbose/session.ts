// This process's raised window. Anomalies that overlap share it: the first
// records and raises, the others join, and the settings come back when the
// last of them releases it.
import { closeSync, existsSync, unlinkSync } from "node:fs";
import { errorCode, errorMessage } from "../../util/errors";
import {
  type Callsite,
  dynamicDebugBefore,
  raiseDynamicDebug,
  readCallsites,
  whyDynamicDebugNotRaised,
} from "./dynamic-debug";
import { fyiBefore, raiseFyi } from "./fyi";
import type { VerbosePaths } from "./paths";
import { restoreSettings } from "./restore";
import { openRecord, parseSaved, readFd, type SavedSettings, writeRecord } from "./state-file";

interface Session {
  paths: VerbosePaths;
  saved: SavedSettings;
  fd: number;
  holders: number;
  /** What was raised, for the output. */
  raised: string[];
}
let session: Session | undefined;

/** Whether this process has a window open. */
export function windowOpen(): boolean {
  return session !== undefined;
}

export type Acquired = { raised: string[]; joined: boolean } | { error: string };

/** Records the previous settings, then raises them; or joins the open window of this process. */
export function acquireVerbose(paths: VerbosePaths): Acquired {
  if (session) return joinWindow(session, paths);
  const hasFyi = existsSync(paths.fyi);
  const { callsites, error: controlError } = readCallsites(paths.control);
  if (!hasFyi && !callsites.length)
    return { error: `the cifs module is not loaded (no ${paths.fyi}, no cifs callsites): nothing raised` };
  const record = openRecord(paths.stateFile);
  if ("error" in record) return record;
  const { fd } = record;
  const raised: string[] = [];
  try {
    restoreEarlierWindow(fd, paths, raised);
    const saved = recordBefore(fd, hasFyi, paths, callsites, raised);
    const failed = raiseSettings(saved, paths, callsites, controlError, raised);
    if (failed.all) {
      // Nothing changed: the record goes, and the reason is the output.
      unlinkSync(paths.stateFile);
      closeSync(fd);
      return { error: `nothing could be raised: ${raised.join("; ")}` };
    }
    if (failed.fyi || failed.dd) {
      // Only what was raised is restored: the record says so too.
      if (failed.fyi) saved.cifsFYI = null;
      if (failed.dd) saved.dynamic_debug = null;
      writeRecord(fd, saved);
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

function joinWindow(open: Session, paths: VerbosePaths): Acquired {
  if (open.paths.stateFile !== paths.stateFile) return { error: "a window on other paths is open" };
  open.holders++;
  return { raised: open.raised, joined: true };
}

/** Restores a record nobody restored (a crash, and no daemon start since): its values are the real previous ones. Throws when that fails. */
function restoreEarlierWindow(fd: number, paths: VerbosePaths, raised: string[]): void {
  const left = parseSaved(readFd(fd));
  if (!left) return;
  const r = restoreSettings(left, paths);
  if (r.errors.length) throw new Error(`restoring an earlier window's settings failed: ${r.errors.join("; ")}`);
  raised.push(`restored first, from an earlier window left open: ${r.done.join("; ")}`);
}

/** Reads the previous settings and records them: on disk before anything changes. */
function recordBefore(
  fd: number,
  hasFyi: boolean,
  paths: VerbosePaths,
  callsites: readonly Callsite[],
  raised: string[],
): SavedSettings {
  let fyi: string | null = null;
  if (hasFyi) {
    const before = fyiBefore(paths.fyi);
    if ("value" in before) fyi = before.value;
    else raised.push(before.note);
  }
  const saved: SavedSettings = {
    version: 1,
    pid: process.pid,
    raised_at: new Date().toISOString(),
    cifsFYI: fyi,
    dynamic_debug: callsites.length ? dynamicDebugBefore(callsites) : null,
  };
  writeRecord(fd, saved);
  return saved;
}

/** Raises what the record holds a previous value of; what failed (`all`: everything tried, so nothing changed). */
function raiseSettings(
  saved: SavedSettings,
  paths: VerbosePaths,
  callsites: readonly Callsite[],
  controlError: string | undefined,
  raised: string[],
): { fyi: boolean; dd: boolean; all: boolean } {
  const errors: string[] = [];
  const failed = { fyi: false, dd: false, all: false };
  if (saved.cifsFYI !== null)
    try {
      raised.push(raiseFyi(paths.fyi, saved.cifsFYI));
    } catch (e) {
      errors.push(`cifsFYI: ${errorCode(e) ?? errorMessage(e)}`);
      failed.fyi = true;
    }
  if (saved.dynamic_debug && paths.control)
    try {
      raised.push(raiseDynamicDebug(paths.control, callsites));
    } catch (e) {
      errors.push(`dynamic debug: ${errorCode(e) ?? errorMessage(e)}`);
      failed.dd = true;
    }
  else raised.push(whyDynamicDebugNotRaised(paths.control, controlError));
  for (const e of errors) raised.push(`could not raise ${e}`);
  const tried = Number(saved.cifsFYI !== null) + Number(!!(saved.dynamic_debug && paths.control));
  failed.all = errors.length === tried;
  return failed;
}
