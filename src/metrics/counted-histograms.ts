// Per-command latency histograms counted in user space from the latency
// events a source delivers, for a source that keeps none in the kernel: the
// load generator (`aod _loadgen` with metrics), whose every record is an
// event. The same log2 buckets as the kernel's: bucket i holds latencies in
// [2^i, 2^(i+1)) us, bucket 0 also < 1 us. (The SMB and NFS tools deliver
// only events over a threshold, so they keep their histograms in the kernel.)
import type { EventBatch } from "../format/event";
import { type CommandHistogram, HIST_SLOTS } from "../tools/hist";
import { KINDS } from "../tools/registry";
import type { EventSource } from "../tools/source";
import type { EventKind } from "../tools/spec";

/** The log2 bucket of a latency in ns. */
export function log2Slot(latencyNs: number): number {
  const us = Math.floor(latencyNs / 1000);
  if (us < 2) return 0;
  if (us >= 2 ** 31) return HIST_SLOTS - 1;
  return Math.min(HIST_SLOTS - 1, 31 - Math.clz32(us));
}

/** `source`, with histograms() counted from its latency events (kinds without a summary key). */
export function withCountedHistograms(source: EventSource): EventSource {
  const latencyKinds: (EventKind | undefined)[] = [];
  for (const k of KINDS) if (!k.summaryKey) latencyKinds[k.id] = k;
  /** kind id → command id → counts. */
  const counts = new Map<number, Map<number, number[]>>();
  const count = (b: EventBatch) => {
    for (let i = 0; i < b.count; i++) {
      const kind = b.tool[i]!;
      if (!latencyKinds[kind]) continue;
      let byCommand = counts.get(kind);
      if (!byCommand) {
        byCommand = new Map();
        counts.set(kind, byCommand);
      }
      let c = byCommand.get(b.command[i]!);
      if (!c) {
        c = new Array<number>(HIST_SLOTS).fill(0);
        byCommand.set(b.command[i]!, c);
      }
      c[log2Slot(b.latencyNs[i]!)]!++;
    }
  };
  return {
    name: source.name,
    clock: source.clock,
    start: (onBatch) =>
      source.start((b) => {
        count(b);
        onBatch(b);
      }),
    lost: () => source.lost(),
    histograms(): CommandHistogram[] {
      const out: CommandHistogram[] = [];
      for (const [kind, byCommand] of counts)
        for (const [id, c] of byCommand)
          out.push({
            command: latencyKinds[kind]!.commands.name(id),
            id,
            count: c.reduce((a, n) => a + n, 0),
            counts: [...c],
          });
      return out;
    },
    ...(source.reconfigure && { reconfigure: (f: Readonly<Record<string, unknown>>) => source.reconfigure!(f) }),
    status: () => source.status(),
    close: () => source.close(),
  };
}
