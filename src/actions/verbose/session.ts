// This process's raised windows, one per kind. Anomalies that overlap share
// their kind's: the first records and raises, the others join, and the values
// come back when the last of them releases it. Kinds are independent: a
// cifs_verbose and an nfs_verbose window (one collection runs both side by
// side) have separate knobs, records and locks.
import { closeSync, unlinkSync } from "node:fs";
import { errorMessage } from "../../util/errors";
import type { KindPaths, RecordBase, VerboseKind } from "./kind";
import { openRecord, parseRecord, readFd, writeRecord } from "./state-file";

/** A kind of any paths, values and preparation (its methods take them bivariantly). */
export type AnyKind = VerboseKind<KindPaths, object, unknown>;

interface Session {
  kind: AnyKind;
  paths: KindPaths;
  saved: RecordBase;
  fd: number;
  holders: number;
  /** What was raised, for the output. */
  raised: string[];
}
const sessions = new Map<string, Session>();

/** Whether this process has a window of this kind open. */
export function windowOpen(kind: AnyKind): boolean {
  return sessions.has(kind.action);
}

export type Acquired = { raised: string[]; joined: boolean } | { error: string };

/**
 * Records the previous values, then raises them; or joins this process's
 * open window of the kind. `prepared`: the kind's prepare(paths), when the
 * caller has it already.
 */
export function acquireWindow<P extends KindPaths, V extends object, Pre>(
  kind: VerboseKind<P, V, Pre>,
  paths: P,
  prepared?: { pre: Pre } | { error: string },
): Acquired {
  const open = sessions.get(kind.action);
  if (open) return joinWindow(open, paths);
  const ready = prepared ?? kind.prepare(paths);
  if ("error" in ready) return ready;
  const record = openRecord(paths.stateFile);
  if ("error" in record) return record;
  const { fd } = record;
  const raised: string[] = [];
  try {
    restoreEarlierWindow(kind, fd, paths, raised);
    // On disk before anything changes.
    const base: RecordBase = { version: 1, pid: process.pid, raised_at: new Date().toISOString() };
    const saved = { ...base, ...kind.before(paths, ready.pre, raised) };
    writeRecord(fd, saved);
    const r = kind.raise(saved, paths, ready.pre, raised);
    if (r.failed === r.tried) {
      // Nothing changed: the record goes, and the reason is the output.
      unlinkSync(paths.stateFile);
      closeSync(fd);
      return { error: `nothing could be raised: ${raised.join("; ")}` };
    }
    // Only what was raised is restored: the record says so too.
    const kept = { ...base, ...r.values };
    if (r.failed) writeRecord(fd, kept);
    sessions.set(kind.action, { kind, paths, saved: kept, fd, holders: 1, raised });
    return { raised, joined: false };
  } catch (e) {
    // Nothing raised (or an earlier window's restore failed): the record stays for the next start.
    closeSync(fd);
    return { error: errorMessage(e) };
  }
}

/** Ends one holder's window of the kind; the last one restores and removes the record. What was restored, or undefined while others hold it. */
export function releaseWindow(kind: AnyKind): string[] | undefined {
  const s = sessions.get(kind.action);
  if (!s || --s.holders > 0) return undefined;
  sessions.delete(kind.action);
  const { done, errors } = s.kind.restore(s.saved, s.paths);
  try {
    if (!errors.length) unlinkSync(s.paths.stateFile);
  } catch {}
  closeSync(s.fd);
  return [...done, ...errors.map((e) => `RESTORE FAILED: ${e} (${s.paths.stateFile} kept: the next start retries)`)];
}

function joinWindow(open: Session, paths: KindPaths): Acquired {
  if (open.paths.stateFile !== paths.stateFile) return { error: "a window on other paths is open" };
  open.holders++;
  return { raised: open.raised, joined: true };
}

/** Restores a record nobody restored (a crash, and no daemon start since): its values are the real previous ones. Throws when that fails. */
function restoreEarlierWindow<P extends KindPaths, V extends object>(
  kind: VerboseKind<P, V, unknown>,
  fd: number,
  paths: P,
  raised: string[],
): void {
  const left = parseRecord(readFd(fd), kind.parse);
  if (!left) return;
  const r = kind.restore(left, paths);
  if (r.errors.length) throw new Error(`restoring an earlier window's settings failed: ${r.errors.join("; ")}`);
  raised.push(`restored first, from an earlier window left open: ${r.done.join("; ")}`);
}
