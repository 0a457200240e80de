// anomaly.json: what was detected, why, the evidence, and how collection went.
import { hostname } from "node:os";
import type { ActionResult } from "../actions/run";
import { type Config, fileShape } from "../config/validate";
import type { Anomaly } from "../detect/anomaly";
import { anomalyTypeOf } from "../detect/types";
import type { EventLine } from "../format/event";
import { jsonWithBigInts } from "../format/json";
import { kernelRelease } from "../host/kernel";
import type { KernelTraceFacts } from "../recorder/flight-recorder";
import { VERSION } from "../version";

export interface CollectionFacts {
  collectedAtMs: number;
  lostEvents?: Record<string, bigint | number>;
  droppedCollections?: number;
  /** The flight recorder's frozen trace (kernel_trace.log). */
  kernelTrace?: KernelTraceFacts;
  /** Per command since aod attached: count and log2-bucket percentiles. */
  latency?: { command: string; count: number; p50_ms: number; p99_ms: number }[];
}

const thresholds = (a: Anomaly) => (a.rule ? anomalyTypeOf(a.rule).thresholds(a.rule) : undefined);
const details = (a: Anomaly) => (a.rule ? anomalyTypeOf(a.rule).details?.(a, a.rule) : undefined);

export function anomalyDocument(
  a: Anomaly,
  triggers: EventLine[],
  actions: ActionResult[],
  config: Config,
  facts: CollectionFacts,
) {
  return {
    type: a.type,
    name: a.name,
    detected_at: new Date(Number(a.detectedAtNs / 1_000_000n)).toISOString(),
    detected_at_ns: a.detectedAtNs,
    collected_at: new Date(facts.collectedAtMs).toISOString(),
    reason: a.reason,
    window_sec: a.windowSec,
    thresholds: thresholds(a),
    details: details(a),
    counts: { in_window: a.count, triggers: triggers.length },
    repeats_during_cooldown: {
      ...a.repeats,
      note: "repeats counted until this bundle was written; the final count is logged when the cooldown ends",
    },
    triggers,
    actions: actions.map(({ data: _d, ...r }) => r),
    lost_events: facts.lostEvents,
    latency_since_attach: facts.latency?.length ? facts.latency : undefined,
    dropped_collections: facts.droppedCollections,
    kernel_trace: facts.kernelTrace,
    host: hostname(),
    kernel: kernelRelease(),
    aod_version: VERSION,
    config: fileShape(config),
  };
}

/** Indented JSON with bigints as exact integers. */
export const toJson = (doc: unknown): string => jsonWithBigInts(doc, 2);
