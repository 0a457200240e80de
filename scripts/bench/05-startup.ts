// 5. Start-up and shutdown, as whole processes: `aod --version` and
// `aod config validate` (hyperfine), `aod run` to "ready" (the load generator's
// BPF program loaded and attached, the reader running), and SIGTERM → exit
// when idle — with the shipped stop_grace_sec (10 s) and with 0.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AOD, atMost, Daemon, mmm, num, preflight, type Row, report, summarize, tempDir } from "./lib";

const RUNS = Number(process.env.AOD_BENCH_REPS ?? 10);
preflight();
const t00 = performance.now();
const dir = tempDir();
const cfgFile = join(dir, "validate.yaml");
writeFileSync(cfgFile, await Bun.file(join(import.meta.dir, "../../config/aod.yaml")).text());

function hyperfine(cmd: string): { times: number[]; mean: number } {
  const out = join(dir, "hf.json");
  const r = Bun.spawnSync(["hyperfine", "-N", "--warmup", "3", "--runs", "30", "--export-json", out, cmd], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, AOD_LOG_LEVEL: "warn" },
  });
  if (r.exitCode !== 0) throw new Error(`hyperfine failed: ${r.stderr.toString()}`);
  const res = JSON.parse(require("node:fs").readFileSync(out, "utf8")).results[0];
  return { times: res.times.map((t: number) => t * 1000), mean: res.mean * 1000 };
}

const rows: Row[] = [];
if (Bun.which("hyperfine")) {
  const v = hyperfine(`${AOD} --version`);
  rows.push({
    metric: "`aod --version` (hyperfine, 30 runs)",
    result: mmm(summarize(v.times), "ms"),
    note: `mean ${num(v.mean)} ms`,
  });
  const c = hyperfine(`${AOD} config validate ${cfgFile}`);
  rows.push({
    metric: "`aod config validate` of the shipped config (hyperfine, 30 runs)",
    result: mmm(summarize(c.times), "ms"),
    note: `mean ${num(c.mean)} ms`,
  });
} else
  rows.push({
    metric: "`aod --version`, `aod config validate`",
    result: "skipped: hyperfine not installed (make deps)",
  });

const base = `guardian:
  anomalies:
    slow:
      type: Latency
      acceptable_count: 10
      default_threshold_ms: 20
      actions: [mounts]
`;
// Not in a private mount namespace here (that would add unshare + mount to the
// time); Daemon.start waits its turn if another aod holds /run/aod.
async function cycle(config: string, idleMs: number) {
  const d = await Daemon.start({ config, isolate: false });
  const ready = d.lines.find((l) => l.msg === "ready")!;
  const readyMs = ready.at - d.spawnedAt;
  await Bun.sleep(idleMs);
  const s = await d.stop();
  return { readyMs, exitMs: s.exitMs, stoppedMs: s.stoppedMs, code: s.code };
}
const ready: number[] = [];
const exit0: number[] = [];
const exitDefault: number[] = [];
const stoppedAt: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const r = await cycle(`${base}collection:\n  stop_grace_sec: 0\n`, 500);
  ready.push(r.readyMs);
  exit0.push(r.exitMs);
  stoppedAt.push(r.stoppedMs);
}
const DEFAULT_RUNS = Number(process.env.AOD_BENCH_DEFAULT_STOP_REPS ?? 3);
for (let i = 0; i < DEFAULT_RUNS; i++) {
  const r = await cycle(base, 500); // stop_grace_sec: the shipped default (10)
  ready.push(r.readyMs);
  exitDefault.push(r.exitMs);
  stoppedAt.push(r.stoppedMs);
}
const rs = summarize(ready);
const e0 = summarize(exit0);
const ed = summarize(exitDefault);
rows.push({
  metric: "`aod run` → ready (BPF loaded and attached)",
  result: mmm(rs, "ms"),
  target: "≤ 80 ms",
  prototype: "109 / 173 / 214 ms",
  verdict: atMost(rs.median, 80, " ms"),
  note: `${rs.n} starts; spawn → the "ready" line read from its stderr`,
});
rows.push({
  metric: "SIGTERM → exit, idle, shipped config (stop_grace_sec 10)",
  result: mmm(ed, "ms"),
  target: "≤ 200 ms",
  prototype: "6.0 / 6.1 / 6.1 s",
  verdict: atMost(ed.median, 200, " ms"),
  note: `${ed.n} runs`,
});
rows.push({
  metric: "SIGTERM → exit, idle, stop_grace_sec 0",
  result: mmm(e0, "ms"),
  target: "≤ 200 ms",
  verdict: atMost(e0.median, 200, " ms"),
  note: `${e0.n} runs`,
});
rows.push({
  metric: 'SIGTERM → the "stopped" log line (all work done)',
  result: mmm(summarize(stoppedAt), "ms"),
  note: "the time from here to exit is timers left pending (see findings)",
});
report("5. Start-up and shutdown", rows, "", (performance.now() - t00) / 1000);
