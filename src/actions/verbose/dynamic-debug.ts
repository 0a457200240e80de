// Dynamic debug's control file: without `module cifs +p` the cifs FYI messages
// never reach the log.
//
// It is restored per callsite: if no cifs callsite printed before,
// `module cifs -p`; otherwise `file F line N -p` for each file:line on which no
// callsite printed before (callsites already on stay on). Other flags (f, l, m,
// t) are never changed.
import { closeSync, constants, openSync, readFileSync, writeSync } from "node:fs";
import { errorCode, errorMessage } from "../../util/errors";

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

/** The cifs callsites; an error instead of throwing when the control file cannot be read. */
export function readCallsites(control: string | undefined): { callsites: Callsite[]; error?: string } {
  if (!control) return { callsites: [] };
  try {
    return { callsites: parseControl(readFileSync(control, "utf8")) };
  } catch (e) {
    return { callsites: [], error: `${control}: ${errorCode(e) ?? errorMessage(e)}` };
  }
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

/** Raises every cifs callsite; what was done, for the output. */
export function raiseDynamicDebug(control: string, callsites: readonly Callsite[]): string {
  writeQueries(control, ["module cifs +p"]);
  const on = callsites.filter((c) => c.flags.includes("p")).length;
  return `dynamic debug: module cifs +p (${callsites.length} callsites, ${on} printing before)`;
}

/** Why dynamic debug was not raised (it was not tried), for the output. */
export function whyDynamicDebugNotRaised(control: string | undefined, controlError: string | undefined): string {
  return controlError
    ? `dynamic debug unreadable (${controlError}): cifs FYI messages may not reach the log`
    : control
      ? "dynamic debug lists no cifs callsites: cifs FYI messages may not reach the log"
      : "no dynamic debug control file (CONFIG_DYNAMIC_DEBUG off, or debugfs not mounted): cifs FYI messages may not reach the log";
}

/** Puts the callsites back as they were; what was done, for the output. */
export function restoreDynamicDebug(control: string, dd: DynamicDebugSaved): string {
  const queries = restoreQueries(dd);
  writeQueries(control, queries);
  return dd.all_off
    ? "dynamic debug: module cifs -p (no cifs callsite printed before)"
    : `dynamic debug: -p on the ${queries.length} cifs file:line places that did not print before (the others stay +p)`;
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
