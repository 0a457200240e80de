// `aod replay`: the daemon's detection and collection fed from a recording,
// with windows and cooldowns on the recorded times. Never drops a collection.
import { ensureOutputDir } from "../bundle/output-dir";
import type { Config } from "../config/validate";
import type { Anomaly } from "../detect/anomaly";
import { realtimeNs } from "../native/libc";
import { batchesOf, type ParsedLines } from "./event-lines";
import { Pipeline } from "./pipeline";

export interface ReplayResult {
  anomaly: Anomaly;
  bundle: string;
  bytes: number;
}

export async function replay(config: Config, parsed: ParsedLines, opts: { noActions?: boolean; onResult?: (r: ReplayResult) => void }): Promise<{ results: ReplayResult[]; pipeline: Pipeline }> {
  const batchesDir = ensureOutputDir(config.aod_output_dir);
  const results: ReplayResult[] = [];
  let offset = 0;
  const pipeline = new Pipeline(config, batchesDir, {
    describe: (_b, i) => parsed.lines[offset + i]!,
    wallNs: (t) => BigInt(Math.round(t)),
    noActions: opts.noActions,
    hooks: {
      onBundle: (anomaly, bundle, bytes) => {
        const r = { anomaly, bundle, bytes };
        results.push(r);
        opts.onResult?.(r);
      },
    },
  });
  for (const { batch, offset: off } of batchesOf(parsed)) {
    offset = off;
    await pipeline.observeWaiting(batch);
  }
  await pipeline.collector.drain();
  return { results, pipeline };
}

export const replayStartNs = () => realtimeNs();
