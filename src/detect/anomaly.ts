// What a detector reports, and the machinery every detector shares: the
// window, the worst triggering events, and the cooldown that turns repeats
// into a count instead of new collections.
import type { RuleBase } from "../config/spec";
import type { EventBatch, EventLine } from "../format/event";
import { SlidingWindow } from "./window";

export interface Anomaly {
  /** The anomaly's config key (guardian.anomalies.<name>). */
  name: string;
  /** The anomaly type's key ("latency", "error", ...), or "snapshot". */
  type: string;
  /** Event time that completed the condition, wall-clock epoch ns. */
  detectedAtNs: bigint;
  reason: string;
  windowSec: number;
  /** Matching events in the window when it fired. */
  count: number;
  /** Triggering events, worst first, in the event line format. */
  triggers: EventLine[];
  rule?: RuleBase;
  /** Repeats counted during the cooldown, filled in while it lasts. */
  repeats: { detections: number; events: number };
}

/** Keeps the N worst candidates (by score) seen since the last reset. */
export class WorstEvents {
  private items: { score: number; t: number; line: EventLine }[] = [];
  constructor(private readonly max: number) {}
  offer(score: number, t: number, make: () => EventLine): void {
    if (this.items.length >= this.max && score <= this.items[this.items.length - 1]!.score) return;
    this.items.push({ score, t, line: make() });
    this.items.sort((a, b) => b.score - a.score);
    if (this.items.length > this.max) this.items.pop();
  }
  /** The kept events at or after `since`, worst first; empties the list. */
  take(since: number): EventLine[] {
    const out = this.items.filter((i) => i.t >= since).map((i) => i.line);
    this.items = [];
    return out;
  }
}

export interface DetectorContext {
  windowSec: number;
  maxTriggerEvents: number;
  /** Turns event i of a batch into an event line (wall-clock time, names). */
  describe(batch: EventBatch, i: number): EventLine;
  /** Converts a batch's time value to wall-clock epoch ns. */
  wallNs(t: number): bigint;
}

export interface Detector {
  readonly rule: RuleBase;
  /** Looks at a batch; returns the anomalies it completes (usually none). */
  observe(batch: EventBatch): Anomaly[];
  /** Config reload: takes over the open cooldown of the rule's previous detector (same name). */
  inherit?(old: Detector): void;
}

/**
 * Window + cooldown shared by the detectors. A subclass says which events
 * match and how bad each is; `hard` marks one that fires on its own.
 */
export abstract class WindowDetector<R extends RuleBase = RuleBase> implements Detector {
  private readonly window: SlidingWindow;
  private readonly worst: WorstEvents;
  private open?: { anomaly: Anomaly; untilNs: number };
  private readonly cooldownNs: number;

  constructor(
    readonly rule: R,
    protected readonly ctx: DetectorContext,
  ) {
    this.window = new SlidingWindow(ctx.windowSec * 1e9);
    this.worst = new WorstEvents(ctx.maxTriggerEvents);
    this.cooldownNs = rule.cooldown_sec * 1e9;
  }

  inherit(old: Detector): void {
    // A changed rule keeps its open anomaly: repeats during its cooldown are still counted, not collected.
    if (old instanceof WindowDetector && old.rule.name === this.rule.name) this.open = old.open;
  }

  /** Score > 0 when event i matches (higher is worse); Infinity-like via hard(). */
  protected abstract score(b: EventBatch, i: number): number;
  protected abstract hard(b: EventBatch, i: number): string | undefined;
  protected abstract reasonFor(count: number): string;

  observe(b: EventBatch): Anomaly[] {
    const out: Anomaly[] = [];
    for (let i = 0; i < b.count; i++) {
      const s = this.score(b, i);
      if (s <= 0) continue;
      const t = b.timeNs[i]!;
      if (this.open && t < this.open.untilNs) {
        // Cooldown: count the repeat into the open anomaly, collect nothing.
        this.open.anomaly.repeats.events++;
        const hardWhy = this.hard(b, i);
        if (this.window.add(t) >= this.rule.acceptable_count || hardWhy) {
          this.open.anomaly.repeats.detections++;
          this.window.clear();
        }
        continue;
      }
      this.open = undefined;
      this.worst.offer(s, t, () => this.ctx.describe(b, i));
      const count = this.window.add(t);
      const hardWhy = this.hard(b, i);
      if (count >= this.rule.acceptable_count || hardWhy) {
        const anomaly: Anomaly = {
          name: this.rule.name,
          type: this.rule.type,
          detectedAtNs: this.ctx.wallNs(t),
          reason: hardWhy ?? this.reasonFor(count),
          windowSec: this.ctx.windowSec,
          count,
          triggers: this.worst.take(t - this.window.windowNs),
          rule: this.rule,
          repeats: { detections: 0, events: 0 },
        };
        this.window.clear();
        if (this.cooldownNs > 0) this.open = { anomaly, untilNs: t + this.cooldownNs };
        out.push(anomaly);
      }
    }
    return out;
  }
}
