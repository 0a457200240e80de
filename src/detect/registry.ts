// Detectors by anomaly type: a new type is one file and one row here.
import type { AnomalyType } from "../config/anomaly-types";
import type { AnomalyRule, Config, ErrorRule, LatencyRule } from "../config/validate";
import type { EventBatch } from "../format/event";
import type { Anomaly, Detector, DetectorContext } from "./anomaly";
import { ErrorDetector } from "./error";
import { LatencyDetector } from "./latency";

export const DETECTORS: {
  [T in AnomalyType]: (rule: Extract<AnomalyRule, { type: T }>, ctx: DetectorContext) => Detector;
} = {
  latency: (rule: LatencyRule, ctx) => new LatencyDetector(rule, ctx),
  error: (rule: ErrorRule, ctx) => new ErrorDetector(rule, ctx),
};

/** All detectors of a config, fed together. */
export class DetectorSet {
  readonly detectors: Detector[];
  constructor(config: Config, ctx: Omit<DetectorContext, "windowSec" | "maxTriggerEvents">) {
    const full = {
      ...ctx,
      windowSec: config.watch_interval_sec,
      maxTriggerEvents: config.collection.max_trigger_events,
    };
    this.detectors = config.rules.map((r: AnomalyRule) =>
      r.type === "latency" ? DETECTORS.latency(r, full) : DETECTORS.error(r, full),
    );
  }
  observe(batch: EventBatch): Anomaly[] {
    const out: Anomaly[] = [];
    for (const d of this.detectors) for (const a of d.observe(batch)) out.push(a);
    return out;
  }
}
