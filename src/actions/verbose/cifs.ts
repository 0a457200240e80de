// cifs_verbose's kind of window: cifsFYI (fyi.ts) and the cifs callsites of
// dynamic debug (dynamic-debug.ts), recorded in verbose-state.json.
import { existsSync } from "node:fs";
import { errorCode, errorMessage } from "../../util/errors";
import {
  type Callsite,
  type DynamicDebugSaved,
  dynamicDebugBefore,
  raiseDynamicDebug,
  readCallsites,
  restoreDynamicDebug,
  whyDynamicDebugNotRaised,
} from "./dynamic-debug";
import { FYI_VALUE, fyiBefore, raiseFyi, writeFyi } from "./fyi";
import type { RecordBase, VerboseKind } from "./kind";
import type { VerbosePaths } from "./paths";
import { parseRecord } from "./state-file";

export interface CifsValues {
  /** cifsFYI before ("0".."9"); null when it was not raised. */
  cifsFYI: string | null;
  /** null when dynamic debug was not raised. */
  dynamic_debug: DynamicDebugSaved | null;
}

/** cifs_verbose's record. */
export type SavedSettings = RecordBase & CifsValues;

interface CifsPre {
  hasFyi: boolean;
  callsites: Callsite[];
  controlError: string | undefined;
}

const SAFE_FILE = /^[A-Za-z0-9_./+-]+$/;

export const cifsKind: VerboseKind<VerbosePaths, CifsValues, CifsPre> = {
  action: "cifs_verbose",
  what: "the cifs client's verbose logging",

  prepare(paths) {
    const hasFyi = existsSync(paths.fyi);
    const { callsites, error: controlError } = readCallsites(paths.control);
    if (!hasFyi && !callsites.length)
      return { error: `the cifs module is not loaded (no ${paths.fyi}, no cifs callsites): nothing raised` };
    return { pre: { hasFyi, callsites, controlError } };
  },

  before(paths, pre, notes) {
    let fyi: string | null = null;
    if (pre.hasFyi) {
      const before = fyiBefore(paths.fyi);
      if ("value" in before) fyi = before.value;
      else notes.push(before.note);
    }
    return { cifsFYI: fyi, dynamic_debug: pre.callsites.length ? dynamicDebugBefore(pre.callsites) : null };
  },

  raise(values, paths, pre, raised) {
    const errors: string[] = [];
    let { cifsFYI, dynamic_debug } = values;
    const tried = Number(cifsFYI !== null) + Number(!!(dynamic_debug && paths.control));
    if (cifsFYI !== null)
      try {
        raised.push(raiseFyi(paths.fyi, cifsFYI));
      } catch (e) {
        errors.push(`cifsFYI: ${errorCode(e) ?? errorMessage(e)}`);
        cifsFYI = null;
      }
    if (dynamic_debug && paths.control)
      try {
        raised.push(raiseDynamicDebug(paths.control, pre.callsites));
      } catch (e) {
        errors.push(`dynamic debug: ${errorCode(e) ?? errorMessage(e)}`);
        dynamic_debug = null;
      }
    else raised.push(whyDynamicDebugNotRaised(paths.control, pre.controlError));
    for (const e of errors) raised.push(`could not raise ${e}`);
    return { values: { cifsFYI, dynamic_debug }, tried, failed: errors.length };
  },

  restore(values, paths) {
    const done: string[] = [];
    const errors: string[] = [];
    if (values.cifsFYI !== null) {
      if (!existsSync(paths.fyi)) done.push("cifsFYI: the cifs module is gone (nothing to restore)");
      else
        try {
          writeFyi(paths.fyi, values.cifsFYI);
          done.push(`cifsFYI back to ${values.cifsFYI}`);
        } catch (e) {
          errors.push(`cifsFYI: ${errorMessage(e)}`);
        }
    }
    const dd = values.dynamic_debug;
    if (dd) {
      if (!paths.control || !existsSync(paths.control))
        done.push("dynamic debug: no control file now (nothing to restore)");
      else
        try {
          done.push(restoreDynamicDebug(paths.control, dd));
        } catch (e) {
          errors.push(`dynamic debug: ${errorMessage(e)}`);
        }
    }
    return { done, errors };
  },

  parse(r) {
    const fyi = r.cifsFYI;
    if (fyi !== null && !(typeof fyi === "string" && FYI_VALUE.test(fyi))) return undefined;
    const dd = parseDynamicDebug(r.dynamic_debug);
    return dd === undefined ? undefined : { cifsFYI: fyi, dynamic_debug: dd };
  },
};

/** A recorded dynamic debug value: null, or one whose file names and lines are safe to put in a query. */
function parseDynamicDebug(dd: unknown): DynamicDebugSaved | null | undefined {
  if (dd === null) return null;
  if (typeof dd !== "object" || dd === undefined) return undefined;
  const d = dd as Record<string, unknown>;
  if (d.all_off === true) return typeof d.callsites === "number" ? (d as DynamicDebugSaved) : undefined;
  if (d.all_off !== false || !Array.isArray(d.off)) return undefined;
  for (const e of d.off as unknown[])
    if (
      !Array.isArray(e) ||
      typeof e[0] !== "string" ||
      !SAFE_FILE.test(e[0]) ||
      !Number.isInteger(e[1]) ||
      (e[1] as number) <= 0
    )
      return undefined;
  return d as DynamicDebugSaved;
}

/** cifs_verbose's record read back, checked before anything of it is written to the kernel. */
export const parseSaved = (text: string): SavedSettings | undefined => parseRecord(text, cifsKind.parse);
