// The worked example of docs/extending.md ("Adding an anomaly type"): a type
// that fires when one command fails `acceptable_count` times in the window,
// whatever the errno. In aod it would live in src/detect/types/burst.ts with
// one row in ANOMALY_TYPES; the test registers it next to the real ones.
import * as v from "valibot";
import { didYouMean } from "../../src/config/problems";
import type { CommonAnomalyKeys, RuleBase } from "../../src/config/spec";
import { type DetectorContext, WindowDetector } from "../../src/detect/anomaly";
import { defineAnomalyType } from "../../src/detect/spec";
import { ERRNO_TABLE } from "../../src/format/errno-names";
import type { EventBatch } from "../../src/format/event";
import { toolCommands, toolKindId } from "../../src/tools/registry";
import type { SmberrFilter } from "../../src/tools/smberr";

// 1. The keys only this type accepts, with their defaults (valibot).
const keys = { command: v.string() };
type Raw = CommonAnomalyKeys & v.InferOutput<v.StrictObjectSchema<typeof keys, undefined>>;

// 2. The compiled rule: what the detector needs, resolved once.
export interface BurstRule extends RuleBase {
  command: number;
}

// 3. The detector: which events count (score > 0); the window, cooldown and
//    trigger list come from WindowDetector.
class BurstDetector extends WindowDetector<BurstRule> {
  constructor(
    rule: BurstRule,
    ctx: DetectorContext,
    private readonly kind: number,
  ) {
    super(rule, ctx);
  }
  protected score(b: EventBatch, i: number): number {
    return b.tool[i] === this.kind && b.command[i] === this.rule.command ? 1 : 0;
  }
  protected hard(): string | undefined {
    return undefined;
  }
  protected reasonFor(count: number): string {
    return `${count} failures of one command within ${this.ctx.windowSec} s`;
  }
}

// 4. The spec: config, detector, kernel filter, descriptions.
export const burst = defineAnomalyType<Raw, BurstRule>({
  type: "burst",
  title: "Burst",
  tools: ["smbiosnoop"],
  keys,
  compile(raw, ctx) {
    const table = toolCommands(ctx.tool);
    const id = table.id(raw.command);
    if (id === undefined)
      ctx.problem(
        [...ctx.at, "command"],
        `unknown ${table.what} ${JSON.stringify(raw.command)}${didYouMean(raw.command, table.names)}`,
      );
    if (ctx.hasProblems() || id === undefined) return undefined;
    const { acceptable_count, actions, cooldown_sec } = raw;
    return {
      name: ctx.name,
      type: "burst",
      tool: ctx.tool,
      mode: ctx.mode,
      acceptable_count,
      actions,
      cooldown_sec,
      command: id,
    };
  },
  fileShape: (raw, { mode, tool }) => ({ ...raw, mode, tool, type: "Burst" }),
  detector: (rule, ctx) => new BurstDetector(rule, ctx, toolKindId(rule.tool)),
  // The kernel side must report every errno for this type to see them all.
  kernelFilter: (): SmberrFilter => ({ errnos: ERRNO_TABLE.map(([, n]) => n) }),
  summary: (r, windowSec) => `${r.name} (burst, ≥${r.acceptable_count} in ${windowSec}s)`,
  logFields: (r) => ({ command: toolCommands(r.tool).name(r.command), acceptable_count: r.acceptable_count }),
  thresholds: (r) => ({ command: toolCommands(r.tool).name(r.command), acceptable_count: r.acceptable_count }),
});
