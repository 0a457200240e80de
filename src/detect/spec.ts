// An anomaly type is one object: its config (keys, compile), its detector,
// what it asks of its tool in the kernel, and how it describes a rule. The
// table of them is ./types/index.ts; docs/extending.md walks through adding one.
import type { AnomalyTypeConfig, CommonAnomalyKeys, RuleBase } from "../config/spec";
import type { Anomaly, Detector, DetectorContext } from "./anomaly";

export interface AnomalyTypeSpec<Raw extends CommonAnomalyKeys = CommonAnomalyKeys, R extends RuleBase = RuleBase>
  extends AnomalyTypeConfig<Raw, R> {
  detector(rule: R, ctx: DetectorContext): Detector;
  /**
   * What the rule needs its tool to report, in the tool's own filter shape
   * (see the tool's spec, e.g. SmbslowerFilter). The tool merges the filters
   * of every rule it feeds and sets its maps and rodata from them.
   */
  kernelFilter(rule: R): unknown;
  /** One line for `aod config validate`, e.g. "latency, 18 commands, ≥10 in 5s". */
  summary(rule: R, windowSec: number): string;
  /** The rule in the daemon's start line. */
  logFields(rule: R): Record<string, unknown>;
  /** The rule in a bundle's anomaly.json (`thresholds`). */
  thresholds(rule: R): Record<string, unknown>;
  /** Bundles of this type carry the latency histograms since attach. */
  withHistograms?: boolean;
  /** What anomaly.json's `details` says beyond the triggers (e.g. the servers they name). */
  details?(anomaly: Anomaly, rule: R): Record<string, unknown>;
}

/** Declares a type with its own raw and rule shapes (checked here, erased in the table). */
export function defineAnomalyType<Raw extends CommonAnomalyKeys, R extends RuleBase>(
  spec: AnomalyTypeSpec<Raw, R>,
): AnomalyTypeSpec<Raw, R> {
  return spec;
}
