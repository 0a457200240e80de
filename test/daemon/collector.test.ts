import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { ensureOutputDir } from "../../src/bundle/output-dir";
import { Collector } from "../../src/daemon/collector";
import type { Anomaly } from "../../src/detect/anomaly";
import { parseConfigText } from "../../src/registry";
import { tempDir } from "../helpers";

const anomaly = (i: number): Anomaly => ({
  name: "slow",
  type: "latency",
  detectedAtNs: BigInt(1e18 + i),
  reason: "test",
  windowSec: 1,
  count: 1,
  triggers: [],
  repeats: { detections: 0, events: 0 },
});

function setup(maxConcurrent: number, queue: number, sleep = "0.4") {
  const dir = tempDir();
  const config = parseConfigText(
    `aod_output_dir: ${dir}\ncollection: {max_concurrent: ${maxConcurrent}, queue_size: ${queue}}\ncustom_actions:\n  - {name: nap, command: [sleep, "${sleep}"]}\nguardian:\n  anomalies:\n    slow: {type: Latency, actions: [nap]}\n`,
    "t",
  );
  const rule = config.rules[0]!;
  const batches = ensureOutputDir(dir);
  return { config, batches, make: (i: number) => ({ ...anomaly(i), rule }) };
}

describe("collector", () => {
  test("at most max_concurrent run, a bounded queue waits, overflow is counted", async () => {
    const { config, batches, make } = setup(2, 1);
    const c = new Collector(config, batches);
    const accepted = [0, 1, 2, 3, 4].map((i) => c.submit(make(i)));
    expect(accepted).toEqual([true, true, true, false, false]);
    expect(c.busy).toBe(2);
    expect(c.queued).toBe(1);
    expect(c.dropped).toBe(2);
    await c.drain();
    expect(c.completed).toBe(3);
    expect(readdirSync(batches).filter((f) => f.endsWith(".tar.zst")).length).toBe(3);
  });

  test("replay mode waits for a slot instead of dropping", async () => {
    const { config, batches, make } = setup(1, 0, "0.05");
    const c = new Collector(config, batches);
    for (let i = 0; i < 4; i++) {
      await c.waitForSlot();
      expect(c.submit(make(i))).toBe(true);
    }
    await c.drain();
    expect(c.dropped).toBe(0);
    expect(c.completed).toBe(4);
  });

  test("stop() past its grace aborts running collections and leaves no partial bundle", async () => {
    const { config, batches, make } = setup(2, 4, "5");
    const c = new Collector(config, batches);
    c.submit(make(1));
    c.submit(make(2));
    c.submit(make(3));
    const t0 = performance.now();
    await c.stop(200);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(readdirSync(batches)).toEqual([]);
    expect(c.completed).toBe(0);
  });
});
