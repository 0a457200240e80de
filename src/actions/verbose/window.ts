// The window, for any kind (kind.ts): the kernel log is read from the moment
// the knobs are raised until they are restored; those lines, with what was
// raised and restored, are the action's output. An abort (deadline, SIGTERM)
// restores at once. When the kind's knobs are not there at all, the output is
// one line saying so, and nothing is changed or recorded.
import type { CollectionConfig } from "../../config/schema";
import { errorCode, errorMessage } from "../../util/errors";
import { enc } from "../capture";
import type { ActionContext, ActionOutput } from "../context";
import { TextOutput } from "../text-output";
import type { KindPaths, VerboseKind } from "./kind";
import { KmsgWindow } from "./kmsg-window";
import { type AnyKind, acquireWindow, releaseWindow } from "./session";

/** A kind's action with its paths as parameters (tests use temp files for the kernel's). */
export async function runWindow<P extends KindPaths, V extends object, Pre>(
  kind: VerboseKind<P, V, Pre>,
  ctx: ActionContext,
  paths: P,
): Promise<ActionOutput> {
  const prepared = kind.prepare(paths);
  if ("error" in prepared)
    return { data: enc(`# ${kind.action}: ${prepared.error}\n`), truncated: false, note: prepared.error };
  const c = ctx.collection;
  // The window ends 2 s before the action's deadline, leaving time to read the log and restore.
  const windowSec = Number(Math.min(c.verbose_sec, Math.max(0, c.action_timeout_sec - 2)).toFixed(3));
  const head = header(kind, c, windowSec);
  const fail = (why: string): ActionOutput => {
    head.add(`# ${why}\n`);
    return { ...head.output(), note: why };
  };
  const opened = openKmsg(paths.kmsg, ctx.capBytes);
  if ("error" in opened) return fail(opened.error);
  const { kmsg } = opened;
  const got = acquireWindow(kind, paths, prepared);
  if ("error" in got) {
    kmsg.close();
    return fail(got.error);
  }
  const raisedAt = new Date();
  const restored = await holdWindow(kind, ctx, kmsg, windowSec);
  head.add(
    `# raised at ${raisedAt.toISOString()}${got.joined ? " (joined the window another anomaly opened)" : ""}: ${got.raised.join("; ")}\n`,
  );
  report(head, paths, kmsg, restored);
  return assemble(head, kmsg, restored, ctx.capBytes);
}

function header(kind: AnyKind, c: CollectionConfig, windowSec: number): TextOutput {
  const head = new TextOutput(64 * 1024);
  head.add(
    `# ${kind.action}: ${kind.what} for ${windowSec} s after the anomaly, then the previous settings restored\n`,
  );
  if (windowSec < c.verbose_sec)
    head.add(
      `# window cut from verbose_sec ${c.verbose_sec} s to fit collection.action_timeout_sec ${c.action_timeout_sec} s\n`,
    );
  return head;
}

/** The kernel log, read past what it holds so far (that is before the window); why not, when it cannot be. */
function openKmsg(path: string, capBytes: number): { kmsg: KmsgWindow } | { error: string } {
  const unreadable = (e: unknown) => ({
    error: `kernel log unreadable (${path}: ${errorCode(e) ?? errorMessage(e)}): nothing raised`,
  });
  let kmsg: KmsgWindow;
  try {
    kmsg = new KmsgWindow(path, Math.max(0, capBytes - 4096)); // room for the header
  } catch (e) {
    return unreadable(e);
  }
  try {
    kmsg.drain(false); // what the log holds so far is before the window
  } catch (e) {
    kmsg.close();
    return unreadable(e);
  }
  return { kmsg };
}

/**
 * Collects the kernel log for windowSec, or until an abort, then releases the
 * window (at once in the abort itself). What was restored; undefined while an
 * overlapping anomaly's window holds the settings raised.
 */
async function holdWindow(
  kind: AnyKind,
  ctx: ActionContext,
  kmsg: KmsgWindow,
  windowSec: number,
): Promise<string[] | undefined> {
  let restored: string[] | undefined;
  let released = false;
  const finish = () => {
    if (released) return;
    released = true;
    restored = releaseWindow(kind);
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
  return restored;
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

/** The header lines after the window: the restore, the record, and what the kernel log gave. */
function report(head: TextOutput, paths: KindPaths, kmsg: KmsgWindow, restored: string[] | undefined): void {
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
}

/** The header, then the window's lines, within the cap; a failed restore fails the action. */
function assemble(head: TextOutput, kmsg: KmsgWindow, restored: string[] | undefined, capBytes: number): ActionOutput {
  const failed = restored?.some((r) => r.startsWith("RESTORE FAILED"));
  const body = kmsg.out.output();
  const all = Buffer.concat([head.output().data, body.data]);
  const data = all.length > capBytes ? all.subarray(0, capBytes) : all;
  const out: ActionOutput = { data, truncated: body.truncated || data.length < all.length };
  if (failed) {
    out.note = "restoring the previous settings failed";
    out.exitStatus = 1;
  }
  return out;
}
