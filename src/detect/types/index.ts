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

/** What a config reload did to the rules, by name. */
export interface RuleChanges {
  kept: string[];
  changed: string[];
  added: string[];
  removed: string[];
}

const contextKey = (c: Config) => `${c.watch_interval_sec}/${c.collection.max_trigger_events}`;
const ruleKey = (r: object) => JSON.stringify(r);

/** All detectors of a config, fed together. */
export class DetectorSet {
  detectors: Detector[];
  private key: string;
  constructor(
    config: Config,
    private readonly ctx: Omit<DetectorContext, "windowSec" | "maxTriggerEvents">,
    private readonly types: readonly AnomalyTypeSpec[] = ANOMALY_TYPES,
  ) {
    this.key = contextKey(config);
    this.detectors = config.rules.map((r) => this.detectorFor(r, config));
  }

  private detectorFor(r: Config["rules"][number], config: Config): Detector {
    const full = {
      ...this.ctx,
      windowSec: config.watch_interval_sec,
      maxTriggerEvents: config.collection.max_trigger_events,
    };
    return anomalyTypeOf(r, this.types).detector(r, full);
  }

  /**
   * Config reload: a rule that did not change keeps its detector (window and
   * cooldown); a changed one gets a new detector that takes over the open
   * cooldown; new rules start fresh, removed ones are dropped.
   */
  reconfigure(config: Config): RuleChanges {
    const changes: RuleChanges = { kept: [], changed: [], added: [], removed: [] };
    const old = new Map(this.detectors.map((d) => [d.rule.name, d]));
    const sameContext = contextKey(config) === this.key;
    this.detectors = config.rules.map((r) => {
      const prev = old.get(r.name);
      old.delete(r.name);
      if (prev && sameContext && ruleKey(prev.rule) === ruleKey(r)) {
        changes.kept.push(r.name);
        return prev;
      }
      const d = this.detectorFor(r, config);
      if (prev) {
        d.inherit?.(prev);
        changes.changed.push(r.name);
      } else changes.added.push(r.name);
      return d;
    });
    changes.removed = [...old.keys()];
    this.key = contextKey(config);
    return changes;
  }
  observe(batch: EventBatch): Anomaly[] {
    const out: Anomaly[] = [];
    for (const d of this.detectors) for (const a of d.observe(batch)) out.push(a);
    return out;
  }
}
