// Latency: slow commands. An event counts when its latency reaches its
// command's threshold; `acceptable_count` of them in the window, or one at the
// hard limit (max_latency_ms), is an anomaly. Fed by a latency tool
// (smbslower), whose kernel side reports only events at or above the lowest
// threshold any rule sets for their command.
import * as v from "valibot";
import { pathString } from "../../config/path";
import { allowedList, didYouMean } from "../../config/problems";
import { DEFAULTS, num } from "../../config/schema";
import type { CommonAnomalyKeys, RuleBase } from "../../config/spec";
import type { EventBatch } from "../../format/event";
import type { NameTable } from "../../format/name-table";
import { toolCommands, toolKindId } from "../../tools/registry";
import type { SmbslowerFilter } from "../../tools/smbslower";
import { type DetectorContext, WindowDetector } from "../anomaly";
import { defineAnomalyType } from "../spec";

const keys = {
  default_threshold_ms: v.optional(num(0), DEFAULTS.default_threshold_ms),
  track_commands: v.optional(
    v.nullable(v.array(v.strictObject({ command: v.string(), threshold: v.optional(num(0)) }))),
    [],
  ),
  exclude_commands: v.optional(v.nullable(v.array(v.string())), []),
  max_latency_ms: v.optional(num(0, true), DEFAULTS.max_latency_ms),
};

export interface LatencyRule extends RuleBase {
  max_latency_ms: number;
  /** Threshold in ms per command id of the tool's table; null = command not tracked. */
  thresholdsMs: (number | null)[];
}

type Raw = CommonAnomalyKeys & v.InferOutput<v.StrictObjectSchema<typeof keys, undefined>>;

export class LatencyDetector extends WindowDetector<LatencyRule> {
  private readonly thresholdNs: Float64Array; // per command id; Infinity = untracked
  private readonly hardNs: number;

  constructor(
    rule: LatencyRule,
    ctx: DetectorContext,
    private readonly kind: number,
    private readonly commands: NameTable,
  ) {
    super(rule, ctx);
    this.thresholdNs = Float64Array.from(rule.thresholdsMs, (t) => (t === null ? Infinity : t * 1e6));
    this.hardNs = rule.max_latency_ms * 1e6;
  }

  protected score(b: EventBatch, i: number): number {
    if (b.tool[i] !== this.kind) return 0;
    const th = this.thresholdNs[b.command[i]!] ?? Infinity;
    const lat = b.latencyNs[i]!;
    return lat >= th ? lat : 0;
  }

  protected hard(b: EventBatch, i: number): string | undefined {
    const lat = b.latencyNs[i]!;
    return lat >= this.hardNs
      ? `${this.commands.name(b.command[i]!)} took ${(lat / 1e6).toFixed(1)} ms, at or above max_latency_ms ${this.rule.max_latency_ms}`
      : undefined;
  }

  protected reasonFor(count: number): string {
    return `${count} commands at or above their latency threshold within ${this.ctx.windowSec} s (acceptable_count ${this.rule.acceptable_count})`;
  }
}

/** "20 ms (18 commands), SMB2_WRITE 50 ms" style summary. */
function summarizeThresholds(th: (number | null)[], commands: NameTable): string {
  const counts = new Map<number, number[]>();
  th.forEach((t, i) => {
    if (t !== null) counts.set(t, [...(counts.get(t) ?? []), i]);
  });
  const [common] = [...counts.entries()].sort((a, b) => b[1].length - a[1].length);
  if (!common) return "none";
  const rest = [...counts.entries()]
    .filter(([t]) => t !== common[0])
    .flatMap(([t, ids]) => ids.map((i) => `${commands.name(i)} ${t} ms`));
  return [`${common[0]} ms (${common[1].length} commands)`, ...rest].join(", ");
}

export const latency = defineAnomalyType<Raw, LatencyRule>({
  type: "latency",
  title: "Latency",
  tools: ["smbslower", "nfsslower"],
  keys,
  withHistograms: true,

  compile(l, ctx) {
    const { at, mode } = ctx;
    const table = toolCommands(ctx.tool);
    const track = l.track_commands ?? [];
    const exclude = l.exclude_commands ?? [];
    const known = table.suggestions ?? table.names;
    const unknown = (name: string) =>
      `unknown ${table.what} ${JSON.stringify(name)}${didYouMean(name, known)} (allowed: ${allowedList(known)})`;
    const seen = new Set<string>();
    track.forEach((t, i) => {
      const key = [...at, "track_commands", i, "command"];
      if (table.ids(t.command) === undefined) ctx.problem(key, unknown(t.command));
      if (seen.has(t.command)) ctx.warn(`${pathString(key)}: ${t.command} is listed twice; the last threshold wins`);
      seen.add(t.command);
    });
    exclude.forEach((c, i) => {
      const key = [...at, "exclude_commands", i];
      if (table.ids(c) === undefined) ctx.problem(key, unknown(c));
      else if (seen.has(c)) ctx.problem(key, `${c} is both tracked (track_commands) and excluded; keep it in one list`);
    });
    if (ctx.hasProblems()) return undefined;
    if (mode === "trackonly" && exclude.length) ctx.warn(`${pathString(at)}: mode trackonly ignores exclude_commands`);
    if (mode === "excludeonly" && track.length) ctx.warn(`${pathString(at)}: mode excludeonly ignores track_commands`);
    const th: (number | null)[] = new Array(table.names.length).fill(
      mode === "trackonly" ? null : l.default_threshold_ms,
    );
    if (mode !== "excludeonly")
      for (const t of track) for (const id of table.ids(t.command)!) th[id] = t.threshold ?? l.default_threshold_ms;
    if (mode !== "trackonly") for (const c of exclude) for (const id of table.ids(c)!) th[id] = null;
    if (th.every((x) => x === null)) {
      ctx.problem(at, `no ${table.what} is left to track (mode ${mode}); track at least one`);
      return undefined;
    }
    return {
      name: ctx.name,
      type: "latency",
      tool: ctx.tool,
      mode,
      acceptable_count: l.acceptable_count,
      actions: l.actions,
      cooldown_sec: l.cooldown_sec,
      max_latency_ms: l.max_latency_ms,
      thresholdsMs: th,
    };
  },

  fileShape: (l, { mode, tool }) => ({
    ...l,
    mode,
    tool,
    type: "Latency",
    track_commands: l.track_commands ?? [],
    exclude_commands: l.exclude_commands ?? [],
  }),

  detector: (rule, ctx) => new LatencyDetector(rule, ctx, toolKindId(rule.tool), toolCommands(rule.tool)),
  kernelFilter: (rule): SmbslowerFilter => ({ thresholdsMs: rule.thresholdsMs }),
  summary: (r, windowSec) =>
    `${r.name} (latency, ${r.thresholdsMs.filter((t) => t !== null).length} commands, ≥${r.acceptable_count} in ${windowSec}s)`,
  logFields: (r) => ({
    acceptable_count: r.acceptable_count,
    max_latency_ms: r.max_latency_ms,
    thresholds_ms: summarizeThresholds(r.thresholdsMs, toolCommands(r.tool)),
    actions: r.actions,
    cooldown_sec: r.cooldown_sec,
  }),
  thresholds: (r) => {
    const table = toolCommands(r.tool);
    return {
      acceptable_count: r.acceptable_count,
      max_latency_ms: r.max_latency_ms,
      cooldown_sec: r.cooldown_sec,
      threshold_ms: Object.fromEntries(r.thresholdsMs.flatMap((t, i) => (t === null ? [] : [[table.name(i), t]]))),
    };
  },
});
