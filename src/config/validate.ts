// Turns a parsed YAML value into the typed, frozen Config, or lists every
// problem found. Structure comes from ./schema.ts; meaning is checked here.
import * as v from "valibot";
import { BUILTIN_ACTION_NAMES } from "../actions/catalog";
import { ANOMALY_TYPE_NAMES, ANOMALY_TYPES, type AnomalyType } from "./anomaly-types";
import { ERRNO_ACCEPTED_NAMES, ERRNO_NAMES, errnoNumber } from "../format/errno-names";
import { allowedList, describe, didYouMean, type Problem } from "./problems";
import {
  ConfigSchema,
  type CustomAction,
  ErrorAnomalySchema,
  keysAt,
  LatencyAnomalySchema,
  type RawConfig,
  type RawErrorAnomaly,
  type RawLatencyAnomaly,
} from "./schema";
import { SMB2_COMMAND_COUNT, SMB2_COMMANDS, smb2CommandId } from "../format/smb2-commands";
import { isToolName, TOOL_NAMES } from "./tool-names";

export const MODES = ["all", "trackonly", "excludeonly"] as const;
export type Mode = (typeof MODES)[number];

interface RuleBase {
  name: string;
  mode: Mode;
  acceptable_count: number;
  actions: string[];
  cooldown_sec: number;
}
export interface LatencyRule extends RuleBase {
  type: "latency";
  tool: "smbslower";
  max_latency_ms: number;
  /** Threshold in ms per SMB2 command id; null = command not tracked. */
  thresholdsMs: (number | null)[];
}
export interface ErrorRule extends RuleBase {
  type: "error";
  tool: "smbiosnoop";
  /** Tracked errno numbers (positive). */
  errnos: number[];
}
export type AnomalyRule = LatencyRule | ErrorRule;

export type Config = Readonly<
  Omit<RawConfig, "watcher" | "guardian" | "custom_actions"> & {
    /** `actions: null` in the file means none. */
    watcher: { actions: string[] };
    guardian: { anomalies: Record<string, RawLatencyAnomaly | RawErrorAnomaly> };
    custom_actions: CustomAction[];
    /** Derived from guardian.anomalies: what the detectors and BPF filters use. */
    rules: AnomalyRule[];
    /** Where the config came from (a path, or "embedded default"). */
    source: string;
    warnings: string[];
  }
>;

export type Path = (string | number)[];
export const pathString = (p: readonly (string | number)[]) =>
  p.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");

function issuesToProblems(
  issues: v.BaseIssue<unknown>[],
  schema: v.GenericSchema,
  prefix: Path,
): (Problem & { at: Path; keyOnly?: boolean })[] {
  return issues.map((i) => {
    const rel = (i.path ?? []).map((p) => p.key as string | number);
    const at = [...prefix, ...rel];
    if (i.type === "strict_object" && i.expected === "never") {
      const key = String(rel[rel.length - 1]);
      const allowed = keysAt(schema, rel.slice(0, -1));
      return {
        path: pathString(at),
        at,
        keyOnly: true,
        message: `unknown key ${JSON.stringify(key)}${didYouMean(key, allowed)} (allowed here: ${allowed.join(", ")})`,
      };
    }
    const expected = i.expected ?? "";
    const what =
      i.type === "min_value" || i.type === "gt_value" || i.type === "max_value"
        ? `a number ${expected}`
        : i.type === "integer"
          ? "a whole number"
          : i.message.startsWith("Invalid")
            ? expected
            : i.message;
    return { path: pathString(at), at, message: `expected ${what}, found ${describe(i.input)}` };
  });
}

const SECTIONS = ["watcher", "guardian", "cleanup", "audit", "collection"] as const;

export function validateConfig(
  input: unknown,
  source: string,
): { config?: Config; problems: (Problem & { at: Path; keyOnly?: boolean })[] } {
  const problems: (Problem & { at: Path; keyOnly?: boolean })[] = [];
  const warnings: string[] = [];
  const add = (at: Path, message: string) => problems.push({ path: pathString(at), at, message });

  if (input === null || input === undefined) input = {};
  if (typeof input !== "object" || Array.isArray(input)) {
    add([], `expected a mapping of settings, found ${describe(input)}`);
    return { problems };
  }
  // Empty sections (`cleanup:` with nothing under it) mean "all defaults".
  const filled: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const s of SECTIONS) if (filled[s] === undefined || filled[s] === null) filled[s] = {};

  const top = v.safeParse(ConfigSchema, filled, { abortEarly: false });
  if (!top.success) problems.push(...issuesToProblems(top.issues, ConfigSchema, []));
  const raw = (top.success ? top.output : undefined) as RawConfig | undefined;

  // Custom actions first: their names are valid in every actions list.
  const customs = (raw?.custom_actions ?? []) as CustomAction[];
  const customNames = new Set<string>();
  customs.forEach((c, i) => {
    const at: Path = ["custom_actions", i];
    if (!c.command === !c.file)
      add(
        at,
        `give exactly one of "command" (an argv list) or "file" (an absolute path), found ${c.command && c.file ? "both" : "neither"}`,
      );
    if (BUILTIN_ACTION_NAMES.includes(c.name))
      add([...at, "name"], `"${c.name}" is a built-in action; choose another name`);
    if (customNames.has(c.name)) add([...at, "name"], `custom action "${c.name}" is defined twice`);
    customNames.add(c.name);
  });
  const actionNames = [...BUILTIN_ACTION_NAMES, ...customNames];
  const checkActions = (at: Path, list: string[] | null | undefined) =>
    (list ?? []).forEach((a, i) => {
      if (!actionNames.includes(a))
        add(
          [...at, i],
          `unknown action ${JSON.stringify(a)}${didYouMean(a, actionNames)} (allowed: ${actionNames.join(", ")})`,
        );
    });
  if (raw) checkActions(["watcher", "actions"], raw.watcher.actions);

  const anomalies: Record<string, RawLatencyAnomaly | RawErrorAnomaly> = {};
  const rules: AnomalyRule[] = [];
  // Anomalies are checked even when the top level has problems, so one run lists them all.
  const anomalyInput = raw?.guardian.anomalies ?? anomaliesOf(filled.guardian);
  const anomalyEntries =
    anomalyInput && typeof anomalyInput === "object" && !Array.isArray(anomalyInput)
      ? Object.entries(anomalyInput)
      : [];
  for (const [name, value] of anomalyEntries) {
    const at: Path = ["guardian", "anomalies", name];
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      add(at, `expected a mapping with at least "type", found ${describe(value)}`);
      continue;
    }
    const typeIn = (value as Record<string, unknown>).type;
    if (typeof typeIn !== "string") {
      add(
        [...at, "type"],
        `expected one of ${ANOMALY_TYPE_NAMES.map((t) => t[0]!.toUpperCase() + t.slice(1)).join(", ")}, found ${describe(typeIn)}`,
      );
      continue;
    }
    const type = typeIn.toLowerCase() as AnomalyType;
    if (!ANOMALY_TYPE_NAMES.includes(type)) {
      add(
        [...at, "type"],
        `unknown anomaly type ${JSON.stringify(typeIn)}${didYouMean(typeIn, ANOMALY_TYPE_NAMES)} (allowed: Latency, Error)`,
      );
      continue;
    }
    const schema = type === "latency" ? LatencyAnomalySchema : ErrorAnomalySchema;
    const parsed = v.safeParse(schema, value, { abortEarly: false });
    if (!parsed.success) {
      problems.push(...issuesToProblems(parsed.issues, schema, at));
      continue;
    }
    const a = parsed.output as RawLatencyAnomaly | RawErrorAnomaly;
    const before = problems.length;
    // Tool: optional, must fit the type.
    const expectedTool = ANOMALY_TYPES[type].tool;
    if (a.tool !== undefined) {
      if (!isToolName(a.tool))
        add(
          [...at, "tool"],
          `unknown tool ${JSON.stringify(a.tool)}${didYouMean(a.tool, Object.keys(TOOL_NAMES))} (allowed: ${Object.keys(TOOL_NAMES).join(", ")})`,
        );
      else if (TOOL_NAMES[a.tool].anomalyType !== type)
        add(
          [...at, "tool"],
          `tool "${a.tool}" measures ${TOOL_NAMES[a.tool].anomalyType}, but this anomaly's type is ${type}; use "${expectedTool}"`,
        );
    }
    const mode = a.mode.toLowerCase() as Mode;
    if (!MODES.includes(mode))
      add(
        [...at, "mode"],
        `unknown mode ${JSON.stringify(a.mode)}${didYouMean(a.mode, MODES)} (allowed: ${MODES.join(", ")})`,
      );
    checkActions([...at, "actions"], a.actions);

    if (type === "latency") {
      const l = a as RawLatencyAnomaly;
      const track = l.track_commands ?? [];
      const exclude = l.exclude_commands ?? [];
      const trackKey = (i: number): Path => [...at, "track_commands", i, "command"];
      const seen = new Set<string>();
      track.forEach((t, i) => {
        if (smb2CommandId(t.command) === undefined)
          add(
            trackKey(i),
            `unknown SMB2 command ${JSON.stringify(t.command)}${didYouMean(t.command, SMB2_COMMANDS)} (allowed: ${allowedList(SMB2_COMMANDS)})`,
          );
        if (seen.has(t.command))
          warnings.push(`${pathString(trackKey(i))}: ${t.command} is listed twice; the last threshold wins`);
        seen.add(t.command);
      });
      exclude.forEach((c, i) => {
        if (smb2CommandId(c) === undefined)
          add(
            [...at, "exclude_commands", i],
            `unknown SMB2 command ${JSON.stringify(c)}${didYouMean(c, SMB2_COMMANDS)} (allowed: ${allowedList(SMB2_COMMANDS)})`,
          );
        else if (seen.has(c))
          add(
            [...at, "exclude_commands", i],
            `${c} is both tracked (track_commands) and excluded; keep it in one list`,
          );
      });
      if (problems.length === before) {
        if (mode === "trackonly" && exclude.length)
          warnings.push(`${pathString(at)}: mode trackonly ignores exclude_commands`);
        if (mode === "excludeonly" && track.length)
          warnings.push(`${pathString(at)}: mode excludeonly ignores track_commands`);
        const th: (number | null)[] = new Array(SMB2_COMMAND_COUNT).fill(
          mode === "trackonly" ? null : l.default_threshold_ms,
        );
        if (mode !== "excludeonly")
          for (const t of track) th[smb2CommandId(t.command)!] = t.threshold ?? l.default_threshold_ms;
        if (mode !== "trackonly") for (const c of exclude) th[smb2CommandId(c)!] = null;
        if (th.every((x) => x === null)) add(at, `no SMB2 command is left to track (mode ${mode}); track at least one`);
        else
          rules.push({
            name,
            type,
            tool: "smbslower",
            mode,
            acceptable_count: l.acceptable_count,
            actions: l.actions,
            cooldown_sec: l.cooldown_sec,
            max_latency_ms: l.max_latency_ms,
            thresholdsMs: th,
          });
      }
      anomalies[name] = {
        ...l,
        mode,
        tool: "smbslower",
        type: "Latency",
        track_commands: track,
        exclude_commands: exclude,
      };
    } else {
      const e = a as RawErrorAnomaly;
      const track = e.track_codes ?? [];
      const exclude = e.exclude_codes ?? [];
      const seen = new Set<string>();
      track.forEach((c, i) => {
        if (errnoNumber(c) === undefined)
          add(
            [...at, "track_codes", i],
            `unknown errno name ${JSON.stringify(c)}${didYouMean(c, ERRNO_ACCEPTED_NAMES)} (Linux errno names such as EACCES, EIO, ENOSPC)`,
          );
        if (seen.has(c)) warnings.push(`${pathString([...at, "track_codes", i])}: ${c} is listed twice`);
        seen.add(c);
      });
      exclude.forEach((c, i) => {
        if (errnoNumber(c) === undefined)
          add(
            [...at, "exclude_codes", i],
            `unknown errno name ${JSON.stringify(c)}${didYouMean(c, ERRNO_ACCEPTED_NAMES)} (Linux errno names such as EACCES, EIO, ENOSPC)`,
          );
        else if (seen.has(c))
          add([...at, "exclude_codes", i], `${c} is both tracked (track_codes) and excluded; keep it in one list`);
      });
      if (problems.length === before) {
        if (mode === "trackonly" && exclude.length)
          warnings.push(`${pathString(at)}: mode trackonly ignores exclude_codes`);
        if (mode === "excludeonly" && track.length)
          warnings.push(`${pathString(at)}: mode excludeonly ignores track_codes`);
        let set: Set<number>;
        if (mode === "trackonly") set = new Set(track.map((c) => errnoNumber(c)!));
        else {
          set = new Set(ERRNO_NAMES.map((c) => errnoNumber(c)!));
          for (const c of exclude) set.delete(errnoNumber(c)!);
        }
        if (set.size === 0) add(at, `no errno is left to track (mode ${mode}); track at least one`);
        else
          rules.push({
            name,
            type,
            tool: "smbiosnoop",
            mode,
            acceptable_count: e.acceptable_count,
            actions: e.actions,
            cooldown_sec: e.cooldown_sec,
            errnos: [...set].sort((x, y) => x - y),
          });
      }
      anomalies[name] = { ...e, mode, tool: "smbiosnoop", type: "Error", track_codes: track, exclude_codes: exclude };
    }
  }

  if (problems.length || !raw) return { problems };
  const config = {
    ...raw,
    watcher: { actions: raw.watcher.actions ?? [] },
    guardian: { anomalies },
    custom_actions: customs,
    rules,
    source,
    warnings,
  } as Config;
  return { config: deepFreeze(config), problems };
}

/** guardian.anomalies of a config that did not validate (any shape). */
const anomaliesOf = (guardian: unknown): unknown =>
  typeof guardian === "object" && guardian !== null && "anomalies" in guardian ? guardian.anomalies : undefined;

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const value of Object.values(o)) deepFreeze(value);
  }
  return o;
}

/** The config as a file would hold it (every default filled), without derived fields. */
export function fileShape(c: Config): Record<string, unknown> {
  const { rules: _r, source: _s, warnings: _w, ...rest } = c;
  return rest;
}
