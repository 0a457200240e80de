// The anomaly types, one row each. A new type is its own file in this folder
// and one row in ANOMALY_TYPES (docs/extending.md). Everything else about
// types (config validation, detectors, kernel filters, descriptions) is read
// from these specs.
import type { RuleBase } from "../../config/spec";
import type { Config } from "../../config/validate";
import type { EventBatch } from "../../format/event";
import { toolByName } from "../../tools/registry";
import type { Anomaly, Detector, DetectorContext } from "../anomaly";
import type { AnomalyTypeSpec } from "../spec";
import { connection } from "./connection";
import { error } from "./error";
import { latency } from "./latency";

export const ANOMALY_TYPES = [latency, error, connection] as readonly AnomalyTypeSpec[];

/** The spec of a compiled rule's type (in `types`, the registered ones by default). */
export function anomalyTypeOf(rule: RuleBase, types: readonly AnomalyTypeSpec[] = ANOMALY_TYPES): AnomalyTypeSpec {
  const t = types.find((x) => x.type === rule.type);
  if (!t) throw new Error(`no anomaly type ${rule.type}`); // rules come from validated configs
  return t;
}

/** Per tool, the filter its kernel side takes: every rule's kernelFilter(), merged by the tool. */
export function toolFilters(config: Config): Record<string, unknown> {
  const byTool = new Map<string, unknown[]>();
  for (const r of config.rules) {
    const list = byTool.get(r.tool) ?? [];
    list.push(anomalyTypeOf(r).kernelFilter(r));
    byTool.set(r.tool, list);
  }
  return Object.fromEntries([...byTool].map(([tool, fs]) => [tool, toolByName(tool)!.mergeFilters(fs)]));
}

/** All detectors of a config, fed together. */
export class DetectorSet {
  readonly detectors: Detector[];
  constructor(
    config: Config,
    ctx: Omit<DetectorContext, "windowSec" | "maxTriggerEvents">,
    types: readonly AnomalyTypeSpec[] = ANOMALY_TYPES,
  ) {
    const full = {
      ...ctx,
      windowSec: config.watch_interval_sec,
      maxTriggerEvents: config.collection.max_trigger_events,
    };
    this.detectors = config.rules.map((r) => anomalyTypeOf(r, types).detector(r, full));
  }
  observe(batch: EventBatch): Anomaly[] {
    const out: Anomaly[] = [];
    for (const d of this.detectors) for (const a of d.observe(batch)) out.push(a);
    return out;
  }
}
