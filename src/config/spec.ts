// What the generic config loader needs to know about the parts that register
// themselves: anomaly types (src/detect/types), actions (src/actions/builtin)
// and event tools (src/tools). The loader (./validate.ts) reads these tables;
// it never names a type, an action or a tool itself.
import type * as v from "valibot";
import type { Path } from "./path";

export const MODES = ["all", "trackonly", "excludeonly"] as const;
export type Mode = (typeof MODES)[number];

/** What every compiled anomaly rule has; a type's rule adds its own fields. */
export interface RuleBase {
  /** The anomaly's key under guardian.anomalies. */
  name: string;
  /** The anomaly type's key (lower case, e.g. "latency"). */
  type: string;
  /** The canonical name of the tool that feeds it. */
  tool: string;
  mode: Mode;
  acceptable_count: number;
  actions: string[];
  cooldown_sec: number;
}

/** The keys every anomaly accepts, whatever its type. */
export interface CommonAnomalyKeys {
  type: string;
  tool?: string;
  mode: string;
  acceptable_count: number;
  actions: string[];
  cooldown_sec: number;
}

/** Handed to a type's compile(): where the anomaly sits and how to report. */
export interface CompileContext {
  /** The anomaly's key path (guardian.anomalies.<name>). */
  at: Path;
  name: string;
  /** The mode, lower-cased and known to be valid. */
  mode: Mode;
  /** The tool, canonical (an alias resolved), fitting the type. */
  tool: string;
  /** A problem at a key path: the config is refused. */
  problem(at: Path, message: string): void;
  /** Whether this anomaly has a problem so far (compile then builds no rule). */
  hasProblems(): boolean;
  /** A warning: the config loads, the warning is printed. */
  warn(message: string): void;
}

/** The config side of an anomaly type (the detector side: src/detect/types/spec.ts). */
export interface AnomalyTypeConfig<Raw extends CommonAnomalyKeys = CommonAnomalyKeys, R extends RuleBase = RuleBase> {
  /** The key, lower case: `type: Latency` in any case selects "latency". */
  type: string;
  /** As documentation and messages spell it ("Latency"). */
  title: string;
  /** Canonical names of the tools that can feed it; the first is the default. */
  tools: readonly string[];
  /** valibot entries of the keys only this type accepts (with their defaults). */
  keys: v.ObjectEntries;
  /**
   * Checks meaning (names, overlaps) and builds the rule; reports problems
   * through ctx and returns undefined when it cannot build one.
   */
  compile(raw: Raw, ctx: CompileContext): R | undefined;
  /** The anomaly as `aod config show` prints it (defaults filled, names normalized). */
  fileShape(raw: Raw, ctx: { mode: Mode; tool: string }): Record<string, unknown>;
}

/** A tool name as configs spell it: canonical, or an alias of one. */
export interface ToolName {
  name: string;
  canonical: string;
}

/** The tables the generic loader reads. */
export interface ConfigRegistry {
  anomalyTypes: readonly AnomalyTypeConfig[];
  /** Every built-in action name (custom ones come from the config). */
  actionNames: readonly string[];
  /** Every tool name configs may use, with aliases. */
  toolNames: readonly ToolName[];
}
