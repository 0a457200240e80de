// Error: failed commands. An event counts when its errno is tracked;
// `acceptable_count` of them in the window is an anomaly. Fed by an error tool
// (smbiosnoop), whose kernel side reports only the errnos some rule tracks.
import * as v from "valibot";
import { didYouMean } from "../../config/problems";
import type { CommonAnomalyKeys, RuleBase } from "../../config/spec";
import { ERRNO_ACCEPTED_NAMES, ERRNO_NAMES, errnoName, errnoNumber } from "../../format/errno-names";
import type { EventBatch } from "../../format/event";
import { toolKindId } from "../../tools/registry";
import type { SmberrFilter } from "../../tools/smberr";
import { type DetectorContext, WindowDetector } from "../anomaly";
import { defineAnomalyType } from "../spec";
import { selectByMode } from "./name-lists";

const keys = {
  track_codes: v.optional(v.nullable(v.array(v.string())), []),
  exclude_codes: v.optional(v.nullable(v.array(v.string())), []),
};

export interface ErrorRule extends RuleBase {
  /** Tracked errno numbers (positive). */
  errnos: number[];
}

type Raw = CommonAnomalyKeys & v.InferOutput<v.StrictObjectSchema<typeof keys, undefined>>;

export class ErrorDetector extends WindowDetector<ErrorRule> {
  private readonly tracked = new Uint8Array(4096);

  constructor(
    rule: ErrorRule,
    ctx: DetectorContext,
    private readonly kind: number,
  ) {
    super(rule, ctx);
    for (const e of rule.errnos) if (e < this.tracked.length) this.tracked[e] = 1;
  }

  protected score(b: EventBatch, i: number): number {
    if (b.tool[i] !== this.kind) return 0;
    const e = -b.rc[i]!;
    // Every tracked error weighs the same; later ones rank lower so the first stay.
    return e > 0 && e < this.tracked.length && this.tracked[e] ? 1 : 0;
  }

  protected hard(): string | undefined {
    return undefined;
  }

  protected reasonFor(count: number): string {
    return `${count} failed commands with a tracked errno within ${this.ctx.windowSec} s (acceptable_count ${this.rule.acceptable_count})`;
  }
}

const unknownErrno = (c: string) =>
  `unknown errno name ${JSON.stringify(c)}${didYouMean(c, ERRNO_ACCEPTED_NAMES)} (Linux errno names such as EACCES, EIO, ENOSPC)`;

export const error = defineAnomalyType<Raw, ErrorRule>({
  type: "error",
  title: "Error",
  tools: ["smbiosnoop"],
  keys,

  compile(e, ctx) {
    const errnos = selectByMode(ctx, {
      trackKey: "track_codes",
      excludeKey: "exclude_codes",
      track: e.track_codes ?? [],
      exclude: e.exclude_codes ?? [],
      all: ERRNO_NAMES,
      id: errnoNumber,
      unknown: unknownErrno,
      what: "errno",
    });
    if (!errnos) return undefined;
    return {
      name: ctx.name,
      type: "error",
      tool: ctx.tool,
      mode: ctx.mode,
      acceptable_count: e.acceptable_count,
      actions: e.actions,
      cooldown_sec: e.cooldown_sec,
      errnos,
    };
  },

  fileShape: (e, { mode, tool }) => ({
    ...e,
    mode,
    tool,
    type: "Error",
    track_codes: e.track_codes ?? [],
    exclude_codes: e.exclude_codes ?? [],
  }),

  detector: (rule, ctx) => new ErrorDetector(rule, ctx, toolKindId(rule.tool)),
  kernelFilter: (rule): SmberrFilter => ({ errnos: rule.errnos }),
  summary: (r, windowSec) => `${r.name} (error, ${r.errnos.length} errnos, ≥${r.acceptable_count} in ${windowSec}s)`,
  logFields: (r) => ({
    acceptable_count: r.acceptable_count,
    errnos: r.errnos.length,
    actions: r.actions,
    cooldown_sec: r.cooldown_sec,
  }),
  thresholds: (r) => ({
    acceptable_count: r.acceptable_count,
    cooldown_sec: r.cooldown_sec,
    errnos: r.errnos.map(errnoName),
  }),
});
