// 1. Detection → bundle: a burst of 20 events of 100 ms latency (threshold
// 20 ms, acceptable_count 10) made by this process's getppid(); time from the
// burst to collection start ("anomaly detected"), to the temporary bundle file
// (actions done, packing starts) and to the complete .tar.zst on disk.
// cooldown_sec 0.5 makes each burst one fresh anomaly (the burst's other 10
// events are repeats) when bursts are a second apart.
import { watch } from "node:fs";
import { BUNDLE_RE, TEMP_RE } from "../../src/bundle/names";
import { errorMessage } from "../../src/util/errors";
import { atMost, Daemon, libc, mmm, preflight, type Row, report, summarize } from "./lib";

const REPS = Number(process.env.AOD_BENCH_REPS ?? 20);
const ACTIONS = ["mounts", "dmesg"];

preflight();
const t00 = performance.now();
const d = await Daemon.start({
  config: `watch_interval_sec: 1
guardian:
  anomalies:
    slow:
      type: Latency
      acceptable_count: 10
      default_threshold_ms: 20
      cooldown_sec: 0.5
      actions: [${ACTIONS.join(", ")}]
collection:
  stop_grace_sec: 0.5
`,
  set: { burst: 20, latency_ns: 100_000_000 },
});

// inotify on the batches dir: when the temporary and the final file appear.
const seen = { tmp: [] as number[], final: [] as number[] };
const w = watch(d.batches, (_ev, name) => {
  const now = performance.now();
  if (!name) return;
  if (TEMP_RE.test(name)) seen.tmp.push(now);
  else if (BUNDLE_RE.test(name)) seen.final.push(now);
});

const detectLog: number[] = []; // "anomaly detected" line's own time − burst (wall clock, ms resolution)
const detectSeen: number[] = []; // the line reaching the harness − burst
const tmpMs: number[] = [];
const finalMs: number[] = [];
const writtenMs: number[] = []; // the daemon's own "bundle written" ms (detection → bundle inside aod)
let failures = 0;

await Bun.sleep(300);
for (let i = 0; i < REPS; i++) {
  seen.tmp.length = 0;
  seen.final.length = 0;
  const anomalyLine = d.waitFor((l) => l.msg === "anomaly detected", 5000);
  const writtenLine = d.waitFor((l) => l.msg === "bundle written", 10_000);
  const t0 = performance.now();
  const wall0 = performance.timeOrigin + t0;
  libc.getppid(); // 20 events of 100 ms
  try {
    const a = await anomalyLine;
    const b = await writtenLine;
    for (let k = 0; k < 50 && !seen.final.length; k++) await Bun.sleep(5); // inotify may trail the log line
    detectLog.push(a.timeMs - wall0);
    detectSeen.push(a.at - t0);
    if (seen.tmp.length) tmpMs.push(seen.tmp[0]! - t0);
    finalMs.push((seen.final[0] ?? b.at) - t0);
    writtenMs.push(Number(b.ms));
  } catch (e) {
    failures++;
    console.error(`rep ${i}: ${errorMessage(e).split("\n")[0]}`);
  }
  await Bun.sleep(1000); // past the 0.5 s cooldown and quiet
}
w.close();
const { stopped } = await d.stop();

const det = summarize(detectLog);
const fin = summarize(finalMs);
const rows: Row[] = [
  {
    metric: 'burst → collection start ("anomaly detected" line\'s time)',
    result: mmm(det, "ms"),
    target: "≤ 20 ms",
    prototype: "–",
    verdict: atMost(det.max, 20, " ms"),
    note: `log time has 1 ms resolution; line seen by the harness ${mmm(summarize(detectSeen), "ms")}`,
  },
  {
    metric: "burst → temporary bundle file (actions done, packing starts)",
    result: mmm(summarize(tmpMs), "ms"),
    note: `${tmpMs.length}/${finalMs.length} temp files seen by inotify`,
  },
  {
    metric: "burst → complete `.tar.zst` on disk",
    result: mmm(fin, "ms"),
    target: "≤ 40 ms median",
    prototype: "50 / 419 / 990 ms",
    verdict: atMost(fin.median, 40, " ms"),
    note: `${fin.n} bursts, actions ${ACTIONS.join("+")}; prototype/aod median ${(419 / fin.median).toFixed(0)}×`,
  },
  {
    metric: 'detection → bundle inside aod ("bundle written" ms)',
    result: mmm(summarize(writtenMs), "ms"),
    prototype: "9–19 ms",
  },
  {
    metric: "bundles / anomalies / failed reps",
    result: `${stopped?.bundles} / ${stopped?.anomalies} / ${failures}`,
    note: `expected ${REPS} / ${REPS} / 0`,
  },
];
report("1. Detection → bundle (burst of 20 × 100 ms events)", rows, "", (performance.now() - t00) / 1000);
