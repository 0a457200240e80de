// Slow SMB commands: an event counts when its latency reaches its command's
// threshold; `acceptable_count` of them in the window, or one at the hard
// limit (max_latency_ms), is an anomaly.

import { smb2CommandName } from "../format/smb2-commands";
import type { LatencyRule } from "../config/validate";
import { type EventBatch, TOOL_SMBSLOWER } from "../format/event";
import { type DetectorContext, WindowDetector } from "./anomaly";

export class LatencyDetector extends WindowDetector {
  private readonly thresholdNs: Float64Array; // per command id; Infinity = untracked
  private readonly hardNs: number;

  constructor(rule: LatencyRule, ctx: DetectorContext) {
    super(rule, ctx);
    this.thresholdNs = Float64Array.from(rule.thresholdsMs, (t) => (t === null ? Infinity : t * 1e6));
    this.hardNs = rule.max_latency_ms * 1e6;
  }

  protected score(b: EventBatch, i: number): number {
    if (b.tool[i] !== TOOL_SMBSLOWER) return 0;
    const th = this.thresholdNs[b.command[i]!] ?? Infinity;
    const lat = b.latencyNs[i]!;
    return lat >= th ? lat : 0;
  }

  protected hard(b: EventBatch, i: number): string | undefined {
    const lat = b.latencyNs[i]!;
    return lat >= this.hardNs
      ? `${smb2CommandName(b.command[i]!)} took ${(lat / 1e6).toFixed(1)} ms, at or above max_latency_ms ${(this.rule as LatencyRule).max_latency_ms}`
      : undefined;
  }

  protected reasonFor(count: number): string {
    return `${count} commands at or above their latency threshold within ${this.ctx.windowSec} s (acceptable_count ${this.rule.acceptable_count})`;
  }
}
