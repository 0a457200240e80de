// Several protocols' sources as one (SMB and NFS in one config): each follows
// its own module and ring; batches reach the detectors as they come, lost
// counts and histograms are the union (tool names and command names differ
// between protocols), and the status line has each protocol's part.
import type { EventBatch } from "../format/event";
import type { CommandHistogram, ShareHistogram } from "./hist";
import { currentClockOffset, type EventSource } from "./source";
import type { ToolSource } from "./tool-source";

export class MultiSource implements EventSource {
  readonly name: string;
  readonly clock = currentClockOffset();

  constructor(readonly sources: readonly ToolSource[]) {
    this.name = sources.map((s) => s.name).join("+");
  }

  async start(onBatch: (b: EventBatch) => void): Promise<void> {
    await Promise.all(this.sources.map((s) => s.start(onBatch)));
  }

  lost(): Record<string, bigint> {
    return Object.assign({}, ...this.sources.map((s) => s.lost()));
  }

  histograms(): CommandHistogram[] {
    return this.sources.flatMap((s) => s.histograms());
  }

  shareHistograms(): ShareHistogram[] {
    return this.sources.flatMap((s) => s.shareHistograms());
  }

  reconfigure(filters: Readonly<Record<string, unknown>>): void {
    for (const s of this.sources) s.reconfigure(filters);
  }

  status(): string {
    return this.sources.map((s) => `${s.name.toUpperCase()}: ${s.status()}`).join("; ");
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.close()));
  }
}
