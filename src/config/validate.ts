// Turns a parsed YAML value into the typed, frozen Config, or lists every
// problem found. Structure comes from ./schema.ts; what anomaly types, actions
// and tools exist comes from the registry the caller passes (src/registry.ts):
// this file names none of them.
import * as v from "valibot";
import { checkMetrics } from "./metrics";
import { type Path, pathString } from "./path";
import { describe, didYouMean, type Problem } from "./problems";
import {
  COMMON_ANOMALY_KEYS,
  ConfigSchema,
  type CustomAction,
  keysAt,
  type MetricsConfig,
  type RawConfig,
} from "./schema";
import {
  type AnomalyTypeConfig,
  type CommonAnomalyKeys,
  type ConfigRegistry,
  MODES,
  type Mode,
  type RuleBase,
} from "./spec";
import { checkUpload, type UploadConfig } from "./upload";

export { type Path, pathString } from "./path";
export { MODES, type Mode, type RuleBase } from "./spec";

export type Config = Readonly<
  Omit<RawConfig, "watcher" | "guardian" | "custom_actions" | "metrics" | "upload"> & {
    /** `actions: null` in the file means none. */
    watcher: { actions: string[] };
    /** Each anomaly as the file would hold it, defaults filled (its type's fileShape). */
    guardian: { anomalies: Record<string, Record<string, unknown>> };
    custom_actions: CustomAction[];
    /** The Prometheus exposition; absent (or `metrics:` with nothing under it): off. */
    metrics?: MetricsConfig;
    /** Bundles to object storage; absent: off. */
    upload?: UploadConfig;
    /** Derived from guardian.anomalies: what the detectors and kernel filters use. */
    rules: RuleBase[];
    /** Where the config came from (a path, or "embedded default"). */
    source: string;
    warnings: string[];
  }
>;

export type LocatedProblem = Problem & { at: Path; keyOnly?: boolean };

function issuesToProblems(issues: v.BaseIssue<unknown>[], schema: v.GenericSchema, prefix: Path): LocatedProblem[] {
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

const SECTIONS = ["watcher", "guardian", "cleanup", "audit", "flight_recorder", "collection"] as const;

/** Each type's full anomaly schema (common keys + its own), built once. */
const schemas = new WeakMap<AnomalyTypeConfig, v.GenericSchema>();
function anomalySchema(t: AnomalyTypeConfig): v.GenericSchema {
  const known = schemas.get(t);
  if (known) return known;
  const s = v.strictObject({ ...COMMON_ANOMALY_KEYS, ...t.keys });
  schemas.set(t, s);
  return s;
}

/** Custom actions: exactly one of command/file, names that are not built-in and not repeated. */
function checkCustomActions(
  customs: { name: string; command?: unknown; file?: unknown }[],
  registry: ConfigRegistry,
  add: (at: Path, message: string) => void,
): Set<string> {
  const names = new Set<string>();
  customs.forEach((c, i) => {
    const at: Path = ["custom_actions", i];
    if (!c.command === !c.file)
      add(
        at,
        `give exactly one of "command" (an argv list) or "file" (an absolute path), found ${c.command && c.file ? "both" : "neither"}`,
      );
    if (registry.actionNames.includes(c.name))
      add([...at, "name"], `"${c.name}" is a built-in action; choose another name`);
    if (names.has(c.name)) add([...at, "name"], `custom action "${c.name}" is defined twice`);
    names.add(c.name);
  });
  return names;
}

export function validateConfig(
  input: unknown,
  source: string,
  registry: ConfigRegistry,
): { config?: Config; problems: LocatedProblem[] } {
  const problems: LocatedProblem[] = [];
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
  const raw = top.success ? top.output : undefined;

  // Custom actions first: their names are valid in every actions list.
  const customs = raw?.custom_actions ?? [];
  const customNames = checkCustomActions(customs, registry, add);
  const actionNames = [...registry.actionNames, ...customNames];
  const checkActions = (
    at: Path,
    list: string[] | null | undefined,
    report: (at: Path, message: string) => void = add,
  ) =>
    (list ?? []).forEach((a, i) => {
      if (!actionNames.includes(a))
        report(
          [...at, i],
          `unknown action ${JSON.stringify(a)}${didYouMean(a, actionNames)} (allowed: ${actionNames.join(", ")})`,
        );
    });
  if (raw) checkActions(["watcher", "actions"], raw.watcher.actions);
  if (raw?.metrics) checkMetrics(raw.metrics, add, (w) => warnings.push(w));
  if (raw?.upload) checkUpload(raw.upload, add, (w) => warnings.push(w));

  const anomalies: Record<string, Record<string, unknown>> = {};
  const rules: RuleBase[] = [];
  // Anomalies are checked even when the top level has problems, so one run lists them all.
  const guardianIn = filled.guardian as { anomalies?: unknown } | undefined;
  const anomalyInput = raw?.guardian.anomalies ?? guardianIn?.anomalies;
  const anomalyEntries =
    anomalyInput && typeof anomalyInput === "object" && !Array.isArray(anomalyInput)
      ? Object.entries(anomalyInput)
      : [];
  for (const [name, value] of anomalyEntries) {
    const at: Path = ["guardian", "anomalies", name];
    const r = checkAnomaly(name, value, at, registry, { add, warn: (w) => warnings.push(w), checkActions });
    if (!r) continue;
    if (r.rule) rules.push(r.rule);
    anomalies[name] = r.shape;
  }

  if (problems.length || !raw) return { problems };
  const { metrics, upload, ...rest } = raw;
  const config = {
    ...rest,
    watcher: { actions: raw.watcher.actions ?? [] },
    guardian: { anomalies },
    custom_actions: customs,
    ...(metrics && { metrics }),
    ...(upload && { upload }),
    rules,
    source,
    warnings,
  };
  return { config: deepFreeze(config), problems };
}

/** One anomaly: its type, the keys of that type, the tool, mode and actions, then the type's own compile(). */
function checkAnomaly(
  name: string,
  value: unknown,
  at: Path,
  registry: ConfigRegistry,
  report: {
    add(at: Path, message: string): void;
    warn(message: string): void;
    checkActions(at: Path, list: string[], report: (at: Path, message: string) => void): void;
  },
): { rule?: RuleBase; shape: Record<string, unknown> } | undefined {
  const { add } = report;
  const titles = registry.anomalyTypes.map((t) => t.title);
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    add(at, `expected a mapping with at least "type", found ${describe(value)}`);
    return undefined;
  }
  const typeIn = (value as Record<string, unknown>).type;
  if (typeof typeIn !== "string") {
    add([...at, "type"], `expected one of ${titles.join(", ")}, found ${describe(typeIn)}`);
    return undefined;
  }
  const spec = registry.anomalyTypes.find((t) => t.type === typeIn.toLowerCase());
  if (!spec) {
    const names = registry.anomalyTypes.map((t) => t.type);
    add(
      [...at, "type"],
      `unknown anomaly type ${JSON.stringify(typeIn)}${didYouMean(typeIn, names)} (allowed: ${titles.join(", ")})`,
    );
    return undefined;
  }
  const schema = anomalySchema(spec);
  const parsed = v.safeParse(schema, value, { abortEarly: false });
  let failed = false;
  const problem = (p: Path, m: string) => {
    failed = true;
    add(p, m);
  };
  if (!parsed.success) {
    for (const p of issuesToProblems(parsed.issues, schema, at)) problem(p.at, p.message);
    return undefined;
  }
  const a = parsed.output as CommonAnomalyKeys;
  // Tool: optional, must fit the type.
  let tool = spec.tools[0]!;
  if (a.tool !== undefined) {
    const known = registry.toolNames.find((n) => n.name === a.tool);
    const names = registry.toolNames.map((n) => n.name);
    if (!known)
      problem(
        [...at, "tool"],
        `unknown tool ${JSON.stringify(a.tool)}${didYouMean(a.tool, names)} (allowed: ${names.join(", ")})`,
      );
    else if (!spec.tools.includes(known.canonical)) {
      const measures = registry.anomalyTypes.find((t) => t.tools.includes(known.canonical))?.type ?? "something else";
      problem(
        [...at, "tool"],
        `tool "${a.tool}" measures ${measures}, but this anomaly's type is ${spec.type}; use ${spec.tools.map((t) => `"${t}"`).join(" or ")}`,
      );
    } else tool = known.canonical;
  }
  const mode = a.mode.toLowerCase() as Mode;
  if (!MODES.includes(mode))
    problem(
      [...at, "mode"],
      `unknown mode ${JSON.stringify(a.mode)}${didYouMean(a.mode, MODES)} (allowed: ${MODES.join(", ")})`,
    );
  report.checkActions([...at, "actions"], a.actions, problem);
  const rule = spec.compile(a, {
    at,
    name,
    mode,
    tool,
    problem,
    hasProblems: () => failed,
    warn: report.warn,
  });
  return { rule: failed ? undefined : rule, shape: spec.fileShape(a, { mode, tool }) };
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const k of Object.keys(o)) deepFreeze((o as Record<string, unknown>)[k]);
  }
  return o;
}

/** The config as a file would hold it (every default filled), without derived fields. */
export function fileShape(c: Config): Record<string, unknown> {
  const { rules: _r, source: _s, warnings: _w, ...rest } = c;
  return rest;
}
