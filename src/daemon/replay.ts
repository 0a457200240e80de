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

export async function replay(
  config: Config,
  parsed: ParsedLines,
  opts: { noActions?: boolean; onResult?: (r: ReplayResult) => void },
): Promise<{ results: ReplayResult[]; pipeline: Pipeline }> {
  const batchesDir = ensureOutputDir(config.aod_output_dir);
  const results: ReplayResult[] = [];
  let offset = 0;
  const pipeline = new Pipeline(config, batchesDir, {
    describe: (_b, i) => parsed.lines[offset + i]!,
    wallNs: (t) => BigInt(Math.round(t)),
    noActions: opts.noActions,
    hooks: {
      onBundle: (anomaly, bundle, bytes) => void results.push({ anomaly, bundle, bytes }),
    },
  });
  for (const { batch, offset: off } of batchesOf(parsed)) {
    offset = off;
    await pipeline.observeWaiting(batch);
  }
  await pipeline.collector.drain();
  // Reported at the end, so the repeats counted during each cooldown are final.
  results.sort((a, b) =>
    a.anomaly.detectedAtNs < b.anomaly.detectedAtNs ? -1 : a.anomaly.detectedAtNs > b.anomaly.detectedAtNs ? 1 : 0,
  );
  for (const r of results) opts.onResult?.(r);
  return { results, pipeline };
}

export const replayStartNs = () => realtimeNs();
