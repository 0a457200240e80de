// Failed SMB commands: an event counts when its errno is tracked;
// `acceptable_count` of them in the window is an anomaly.
import type { ErrorRule } from "../config/validate";
import { type EventBatch, TOOL_SMBERR } from "../format/event";
import { type DetectorContext, WindowDetector } from "./anomaly";

export class ErrorDetector extends WindowDetector {
  private readonly tracked = new Uint8Array(4096);

  constructor(rule: ErrorRule, ctx: DetectorContext) {
    super(rule, ctx);
    for (const e of rule.errnos) if (e < this.tracked.length) this.tracked[e] = 1;
  }

  protected score(b: EventBatch, i: number): number {
    if (b.tool[i] !== TOOL_SMBERR) return 0;
    const e = -b.rc[i]!;
    // Every tracked error weighs the same; later ones rank lower so the first stay.
    return e > 0 && e < this.tracked.length && this.tracked[e] ? 1 : 0;
  }

  protected hard(): string | undefined {
    return undefined;
  }

  protected reasonFor(count: number): string {
    return `${count} failed commands with a tracked errno within ${this.ctx.windowSec} s (acceptable_count ${this.rule.acceptable_count})`;
  }
}
