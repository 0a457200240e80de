// Runs a collection's actions side by side, each with a deadline and an output
// cap. A failing or timed-out action is recorded and never stops the others.
import type { Config } from "../config/validate";
import { errorMessage } from "../util/errors";
import { actionFileName, builtinAction } from "./builtin";
import { captureCommand, captureFile, enc } from "./capture";
import type { ActionContext, ActionFn } from "./context";

export interface ActionResult {
  name: string;
  file: string;
  /** "ok", "failed" (non-zero exit or error), "timeout". */
  status: "ok" | "failed" | "timeout";
  exit_status?: number;
  duration_ms: number;
  bytes: number;
  truncated: boolean;
  error?: string;
  note?: string;
  data: Uint8Array;
}

/** The function behind an action name: built-in, or custom from the config. */
export function resolveAction(name: string, config: Config): { fn: ActionFn; timeoutSec: number } {
  const defaultTimeout = config.collection.action_timeout_sec;
  const builtin = builtinAction(name);
  if (builtin) return { fn: (ctx) => builtin.run(ctx), timeoutSec: defaultTimeout };
  const custom = config.custom_actions.find((c) => c.name === name);
  if (!custom) throw new Error(`unknown action ${name}`); // config validation prevents this
  const fn: ActionFn = custom.command
    ? (ctx) => captureCommand(custom.command!, ctx)
    : async (ctx) => captureFile(custom.file!, ctx);
  return { fn, timeoutSec: custom.timeout_sec ?? defaultTimeout };
}

export async function runActions(
  names: readonly string[],
  config: Config,
  detectedAtMs: number,
  outer?: AbortSignal,
): Promise<ActionResult[]> {
  return Promise.all(names.map((n) => runOne(n, config, detectedAtMs, outer)));
}

async function runOne(name: string, config: Config, detectedAtMs: number, outer?: AbortSignal): Promise<ActionResult> {
  const { fn, timeoutSec } = resolveAction(name, config);
  const ac = new AbortController();
  const onOuter = () => ac.abort();
  outer?.addEventListener("abort", onOuter, { once: true });
  const ctx: ActionContext = {
    detectedAtMs,
    collection: config.collection,
    signal: ac.signal,
    capBytes: Math.floor(config.collection.action_output_cap_mb * 1024 * 1024),
  };
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      ac.abort();
      resolve("timeout");
    }, timeoutSec * 1000);
  });
  const base = { name, file: actionFileName(name) };
  try {
    const r = await Promise.race([fn(ctx), deadline]);
    const duration_ms = Math.round(performance.now() - t0);
    if (r === "timeout") {
      const data = enc(`action ${name} timed out after ${timeoutSec} s\n`);
      return {
        ...base,
        status: "timeout",
        duration_ms,
        bytes: data.length,
        truncated: false,
        error: `timed out after ${timeoutSec} s`,
        data,
      };
    }
    const failed = r.exitStatus !== undefined && r.exitStatus !== 0;
    return {
      ...base,
      status: failed ? "failed" : "ok",
      exit_status: r.exitStatus,
      duration_ms,
      bytes: r.data.length,
      truncated: r.truncated,
      note: r.note,
      data: r.data,
    };
  } catch (e) {
    const data = enc(`action ${name} failed: ${errorMessage(e)}\n`);
    return {
      ...base,
      status: "failed",
      duration_ms: Math.round(performance.now() - t0),
      bytes: data.length,
      truncated: false,
      error: errorMessage(e),
      data,
    };
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuter);
  }
}
