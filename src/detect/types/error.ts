// Error: failed commands. An event counts when its errno is tracked (the errno
// lists under `mode`, as in the prototype) and, where the rule has them, its
// NT status is in track_status (an event without a status never is) and not in
// exclude_status, and its command is in track_commands and not in
// exclude_commands. `acceptable_count` of them in the window is an anomaly.
// Fed by an error tool (smbiosnoop), whose kernel side reports only the errnos
// some rule tracks.
import * as v from "valibot";
import { didYouMean } from "../../config/problems";
import type { CommonAnomalyKeys, CompileContext, RuleBase } from "../../config/spec";
import { ERRNO_ACCEPTED_NAMES, ERRNO_NAMES, errnoName, errnoNumber } from "../../format/errno-names";
import type { EventBatch } from "../../format/event";
import { NT_STATUS_NAMES, ntStatusCode, ntStatusName } from "../../format/nt-status";
import { toolCommands, toolKindId } from "../../tools/registry";
import type { SmberrFilter } from "../../tools/smberr";
import { type DetectorContext, WindowDetector } from "../anomaly";
import { defineAnomalyType } from "../spec";
import { selectByMode } from "./name-lists";

const list = v.optional(v.nullable(v.array(v.string())), []);
const keys = {
  track_codes: list,
  exclude_codes: list,
  track_status: list,
  exclude_status: list,
  track_commands: list,
  exclude_commands: list,
};

export interface ErrorRule extends RuleBase {
  /** Tracked errno numbers (positive). */
  errnos: number[];
  /** NT status codes: only these (when given), never those. */
  status?: { track?: number[]; exclude: number[] };
  /** Command ids of the tool's table: only these (when given), never those. */
  commands?: { track?: number[]; exclude: number[] };
}

type Raw = CommonAnomalyKeys & v.InferOutput<v.StrictObjectSchema<typeof keys, undefined>>;

export class ErrorDetector extends WindowDetector<ErrorRule> {
  private readonly tracked = new Uint8Array(4096);
  private readonly statusTrack?: Set<number>;
  private readonly statusExclude: Set<number>;
  /** Per command id: 1 = counts (all 1 without command lists). */
  private readonly commandOk = new Uint8Array(256).fill(1);

  constructor(
    rule: ErrorRule,
    ctx: DetectorContext,
    private readonly kind: number,
  ) {
    super(rule, ctx);
    for (const e of rule.errnos) if (e < this.tracked.length) this.tracked[e] = 1;
    if (rule.status?.track) this.statusTrack = new Set(rule.status.track);
    this.statusExclude = new Set(rule.status?.exclude);
    if (rule.commands?.track) {
      this.commandOk.fill(0);
      for (const c of rule.commands.track) this.commandOk[c] = 1;
    }
    for (const c of rule.commands?.exclude ?? []) this.commandOk[c] = 0;
  }

  protected score(b: EventBatch, i: number): number {
    if (b.tool[i] !== this.kind) return 0;
    const e = -b.rc[i]!;
    if (!(e > 0 && e < this.tracked.length && this.tracked[e])) return 0;
    if (!this.commandOk[b.command[i]!]) return 0;
    const status = b.status[i]!;
    if (this.statusTrack && !this.statusTrack.has(status)) return 0; // 0 (no status) is never tracked
    // Every tracked error weighs the same; later ones rank lower so the first stay.
    return this.statusExclude.has(status) ? 0 : 1;
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

const STATUS_NAMES = {
  ids: (s: string) => {
    const code = ntStatusCode(s);
    return code === undefined ? undefined : [code];
  },
  unknown: (s: string) =>
    `unknown NT status ${JSON.stringify(s)}${didYouMean(s.toUpperCase(), NT_STATUS_NAMES)} (a name such as STATUS_ACCESS_DENIED, or a code such as 0xc0000022)`,
};

/** A status as configs show it compiled: its name, or its code when unnamed. */
const canonicalStatus = (s: string) => {
  const code = ntStatusCode(s);
  return code === undefined ? s : ntStatusName(code);
};

/**
 * Optional track/exclude lists of names (no mode: the prototype's mode is the
 * errno lists'): undefined when both are empty, else the ids, checked.
 */
function namedSet(
  ctx: CompileContext,
  track: readonly string[] | null,
  exclude: readonly string[] | null,
  [trackKey, excludeKey]: [string, string],
  names: { ids(name: string): readonly number[] | undefined; unknown(name: string): string },
): { track?: number[]; exclude: number[] } | undefined {
  // Per listed name, the ids it selects (a family name such as NFS "WRITE" selects several).
  const ids = (list: readonly string[] | null, key: string) =>
    (list ?? []).map((n, i) => {
      const got = names.ids(n);
      if (got === undefined) ctx.problem([...ctx.at, key, i], names.unknown(n));
      return got ?? [];
    });
  const t = ids(track, trackKey);
  const x = ids(exclude, excludeKey);
  t.forEach((tIds, i) => {
    const j = x.findIndex((xIds) => xIds.some((id) => tIds.includes(id)));
    if (j >= 0)
      ctx.problem(
        [...ctx.at, excludeKey, j],
        `${track![i]} is both tracked (${trackKey}) and excluded; keep it in one list`,
      );
  });
  if (!t.length && !x.length) return undefined;
  const sorted = (l: (readonly number[])[]) => [...new Set(l.flat())].sort((a, b) => a - b);
  return { ...(t.length && { track: sorted(t) }), exclude: sorted(x) };
}

const nonEmpty = (key: string, list: string[]) => (list.length ? { [key]: list } : {});

/** The status and command lists of a rule, by name, for logs and anomaly.json. */
function listsOf(r: ErrorRule): Record<string, string[]> {
  const names = toolCommands(r.tool);
  const out: Record<string, string[]> = {};
  if (r.status?.track) out.track_status = r.status.track.map(ntStatusName);
  if (r.status?.exclude.length) out.exclude_status = r.status.exclude.map(ntStatusName);
  if (r.commands?.track) out.track_commands = r.commands.track.map((c) => names.name(c));
  if (r.commands?.exclude.length) out.exclude_commands = r.commands.exclude.map((c) => names.name(c));
  return out;
}

export const error = defineAnomalyType<Raw, ErrorRule>({
  type: "error",
  title: "Error",
  tools: ["smbiosnoop", "nfserr"],
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
    const status = namedSet(ctx, e.track_status, e.exclude_status, ["track_status", "exclude_status"], STATUS_NAMES);
    const table = toolCommands(ctx.tool);
    const commands = namedSet(ctx, e.track_commands, e.exclude_commands, ["track_commands", "exclude_commands"], {
      ids: (c) => table.ids(c) ?? table.ids(c.toUpperCase()),
      unknown: (c) => `unknown ${table.what} ${JSON.stringify(c)}${didYouMean(c, table.suggestions ?? table.names)}`,
    });
    if (!errnos || ctx.hasProblems()) return undefined;
    return {
      name: ctx.name,
      type: "error",
      tool: ctx.tool,
      mode: ctx.mode,
      acceptable_count: e.acceptable_count,
      actions: e.actions,
      cooldown_sec: e.cooldown_sec,
      errnos,
      ...(status && { status }),
      ...(commands && { commands }),
    };
  },

  fileShape: (e, { mode, tool }) => ({
    ...e,
    mode,
    tool,
    type: "Error",
    track_codes: e.track_codes ?? [],
    exclude_codes: e.exclude_codes ?? [],
    // Status and command lists, where given, as they compile: canonical names (codes named where the table has them).
    ...nonEmpty("track_status", (e.track_status ?? []).map(canonicalStatus)),
    ...nonEmpty("exclude_status", (e.exclude_status ?? []).map(canonicalStatus)),
    ...nonEmpty(
      "track_commands",
      (e.track_commands ?? []).map((c) => c.toUpperCase()),
    ),
    ...nonEmpty(
      "exclude_commands",
      (e.exclude_commands ?? []).map((c) => c.toUpperCase()),
    ),
  }),

  detector: (rule, ctx) => new ErrorDetector(rule, ctx, toolKindId(rule.tool)),
  kernelFilter: (rule): SmberrFilter => ({ errnos: rule.errnos }),
  summary: (r, windowSec) => `${r.name} (error, ${r.errnos.length} errnos, ≥${r.acceptable_count} in ${windowSec}s)`,
  logFields: (r) => ({
    acceptable_count: r.acceptable_count,
    errnos: r.errnos.length,
    ...listsOf(r),
    actions: r.actions,
    cooldown_sec: r.cooldown_sec,
  }),
  thresholds: (r) => ({
    acceptable_count: r.acceptable_count,
    cooldown_sec: r.cooldown_sec,
    errnos: r.errnos.map(errnoName),
    ...listsOf(r),
  }),
});
