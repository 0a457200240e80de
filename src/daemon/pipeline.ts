// Detection and collection joined: a batch goes through every detector as it
// arrives; each anomaly is audited and handed to the collector at once.
import type { Config } from "../config/validate";
import type { Anomaly } from "../detect/anomaly";
import { DetectorSet, type RuleChanges } from "../detect/types";
import type { EventBatch, EventLine } from "../format/event";
import { log } from "../log";
import { auditAnomaly } from "./audit";
import { Collector, type CollectorHooks } from "./collector";

export interface PipelineOptions {
  describe: (b: EventBatch, i: number) => EventLine;
  wallNs: (t: number) => bigint;
  noActions?: boolean;
  hooks?: CollectorHooks;
  onAnomaly?: (a: Anomaly) => void;
}

export class Pipeline {
  readonly detectors: DetectorSet;
  readonly collector: Collector;
  events = 0;
  anomalies = 0;

  constructor(
    public config: Config,
    batchesDir: string,
    private readonly opts: PipelineOptions,
  ) {
    this.detectors = new DetectorSet(config, { describe: opts.describe, wallNs: opts.wallNs });
    this.collector = new Collector(
      config,
      batchesDir,
      { ...opts.hooks, onAlert: (a) => this.alert(a) },
      { noActions: opts.noActions },
    );
  }

  // Anomalies whose cooldown may still collect repeats, with its end (wall ms).
  private cooling: { a: Anomaly; untilMs: number }[] = [];

  /**
   * Logs the repeats counted during each finished cooldown (they arrive after
   * the bundle is written). `all`: also the open ones (at shutdown).
   */
  reportRepeats(all = false, nowMs = Date.now()): void {
    this.cooling = this.cooling.filter(({ a, untilMs }) => {
      if (!all && untilMs > nowMs) return true;
      if (a.repeats.events > 0)
        log.info("cooldown ended: repeats were counted, not collected", {
          anomaly: a.name,
          detected_at: new Date(Number(a.detectedAtNs / 1_000_000n)).toISOString(),
          repeat_detections: a.repeats.detections,
          repeat_events: a.repeats.events,
        });
      return false;
    });
  }

  private alert(a: Anomaly): void {
    if (a.type !== "snapshot") this.anomalies++;
    if (a.rule && a.rule.cooldown_sec > 0)
      this.cooling.push({ a, untilMs: Number(a.detectedAtNs / 1_000_000n) + a.rule.cooldown_sec * 1000 });
    if (a.type !== "snapshot") {
      log.warn("anomaly detected", { anomaly: a.name, type: a.type, reason: a.reason, count: a.count });
      if (this.config.audit.enabled) auditAnomaly(a.type, a.count);
    }
    this.opts.onAnomaly?.(a);
  }

  /** Config reload: new rules and settings; windows, cooldowns, the queue and counters stay. */
  reconfigure(config: Config): RuleChanges {
    this.config = config;
    this.collector.reconfigure(config);
    return this.detectors.reconfigure(config);
  }

  /** Live: detect and submit (a full queue drops, counted). */
  observe(batch: EventBatch): void {
    this.events += batch.count;
    if (this.cooling.length) this.reportRepeats();
    for (const a of this.detectors.observe(batch)) this.collector.submit(a);
  }

  /** Replay: detect, waiting for a collection slot instead of dropping. */
  async observeWaiting(batch: EventBatch): Promise<void> {
    this.events += batch.count;
    for (const a of this.detectors.observe(batch)) {
      await this.collector.waitForSlot();
      this.collector.submit(a);
    }
  }
}
