// 2. Sustained ingest (the reader's capacity): 1k … 2M events/s for 20 s each
// through the kernel ring buffer, reader, decoding and detectors. Events are
// 1 ms slow against a 20 ms threshold: all reach user space, none fires.
// A separate generator process (gen.ts) makes the getppid() calls; a fresh
// daemon per rate. Reports events delivered vs generated (ring drops are
// counted by the kernel side as `lost`), aod's CPU (% of one core, per-second
// samples) and RSS, and the generator's achieved rate.
import { join } from "node:path";
import {
  atLeast,
  atMost,
  BUN,
  cpuPercent,
  cpuSample,
  Daemon,
  Generator,
  lostEvents,
  memSample,
  mmm,
  num,
  preflight,
  type Row,
  report,
  summarize,
  table,
  threadCpu,
  threadCpuDelta,
  threadSwitches,
} from "./lib";

const SECONDS = Number(process.env.AOD_BENCH_SECONDS ?? 20);
const RATES = (process.env.AOD_BENCH_RATES ?? "1000,10000,100000,500000,1000000,2000000").split(",").map(Number);
const burstFor = (rate: number) => Math.max(1, Math.round(rate / 10_000)); // ≤ 10k getppid() calls a second

preflight();
const t00 = performance.now();
const gen = new Generator();
const rows: Row[] = [];
const detail: string[][] = [];
const cfg = `watch_interval_sec: 5
guardian:
  anomalies:
    slow:
      type: Latency
      acceptable_count: 10
      default_threshold_ms: 20
      cooldown_sec: 60
      actions: [mounts]
collection:
  stop_grace_sec: 0.5
`;

// Up to 100k/s each rate runs twice in this invocation: the reader as it was
// (a fixed 5 ms poll while events stream: --reader-max-lag 5) and as it ships.
const BEFORE_LAG_MS = 5;
const readers = (rate: number) => (rate <= 100_000 ? [BEFORE_LAG_MS, undefined] : [undefined]);
const cpuAt = new Map<string, string>();
// Where the CPU goes, per thread (what ships, up to 100k/s): rate, thread, %, wakeups/s, µs per wakeup.
const threads: string[][] = [];

try {
  for (const rate of RATES)
    for (const lag of readers(rate)) {
      const burst = burstFor(rate);
      const d = await Daemon.start({
        config: cfg,
        loadgenPid: gen.pid,
        set: { burst, latency_ns: 1_000_000 },
        readerMaxLagMs: lag,
      });
      await Bun.sleep(500);
      const rss0 = memSample(d.pid).rssMB;
      // Per-second CPU and RSS of the daemon while the generator runs.
      const perSec: number[] = [];
      let rssMax = 0;
      let last = cpuSample(d.pid);
      const first = last;
      const sw0 = threadSwitches(d.pid);
      const tc0 = threadCpu(d.pid);
      const timer = setInterval(() => {
        const s = cpuSample(d.pid);
        perSec.push(cpuPercent(last, s).pct);
        last = s;
        rssMax = Math.max(rssMax, memSample(d.pid).rssMB);
      }, 1000);
      const g = await gen.run(rate, burst, SECONDS);
      clearInterval(timer);
      const whole = cpuPercent(first, cpuSample(d.pid));
      const mem = memSample(d.pid);
      rssMax = Math.max(rssMax, mem.rssMB);
      const sw1 = threadSwitches(d.pid);
      const tc1 = threadCpu(d.pid);
      if (lag === undefined && rate <= 100_000) {
        const rateLabel = rate >= 1e6 ? `${rate / 1e6}M` : `${rate / 1e3}k`;
        for (const t of threadCpuDelta(tc0, tc1, g.seconds))
          if (t.pct >= 0.005)
            threads.push([
              `${rateLabel}/s`,
              t.thread,
              num(t.pct, 3),
              num(t.wakeupsPerSec),
              Number.isNaN(t.usPerWakeup) ? "–" : num(t.usPerWakeup),
            ]);
      }
      const wakeups = ((sw1.get("Worker") ?? 0) - (sw0.get("Worker") ?? 0)) / g.seconds;
      const mainWakeups = ((sw1.get("aod") ?? 0) - (sw0.get("aod") ?? 0)) / g.seconds;
      await Bun.sleep(300); // the reader's last drain
      const lost = lostEvents(d.pid);
      const { stopped, code } = await d.stop();
      const generated = g.calls * burst;
      const delivered = Number(stopped?.events ?? NaN);
      const achieved = generated / g.seconds;
      const drops = generated - delivered;
      const cpu = summarize(perSec);
      const rateLabel = rate >= 1e6 ? `${rate / 1e6}M` : `${rate / 1e3}k`;
      const variant = lag === undefined ? "" : `, reader before (fixed ${lag} ms poll)`;
      cpuAt.set(`${rate}${lag === undefined ? "" : "-before"}`, `${mmm(cpu, "%")} (${num(mainWakeups)} wakeups/s)`);
      detail.push([
        `${rateLabel}/s (burst ${burst})${variant}`,
        `${num(achieved / 1000)}k/s (${num((achieved / rate) * 100)}%)`,
        `${generated}`,
        `${delivered}`,
        `${lost}`,
        `${drops ? `${num((drops / generated) * 100, 2)}%` : "0"}`,
        mmm(cpu, "%"),
        num(whole.pct),
        `${num(rss0)} → ${num(rssMax)}`,
        `${num(wakeups)} / ${num(mainWakeups)}`,
        num(g.cpuPct),
        `${stopped?.anomalies ?? "?"}${code ? ` exit ${code}` : ""}`,
      ]);
      const noDrops = drops === 0;
      if (lag !== undefined) continue; // the comparison rows below; the targets are judged on what ships
      if (rate === 1_000 || rate === 10_000)
        rows.push({
          metric: `CPU at ${rateLabel} events/s (% of one core, per-second samples)`,
          result: `${mmm(cpu, "%")}, ${num(mainWakeups)} main-thread wakeups/s`,
          target: rate === 1_000 ? "≤ 0.1% (issue 18)" : "≤ 0.2% (issue 18)",
          prototype: rate === 1_000 ? "0.1%" : "0.2%",
          verdict: atMost(cpu.median, rate === 1_000 ? 0.1 : 0.2, " points"),
          note: `same run, reader before (fixed 5 ms poll): ${cpuAt.get(`${rate}-before`) ?? "?"}`,
        });
      if (rate === 100_000)
        rows.push({
          metric: "CPU at 100k events/s (% of one core, per-second samples)",
          result: mmm(cpu, "%"),
          target: "≤ 1.5% (the prototype's)",
          prototype: "1.1–1.5%",
          verdict: atMost(cpu.median, 1.5, " points"),
          note: `whole-run mean ${num(whole.pct)}%; RSS ${num(rssMax)} MB (prototype 89–95 MB); same run, reader before (fixed 5 ms poll): ${cpuAt.get(`${rate}-before`) ?? "?"}`,
        });
      if (rate === 1_000_000)
        rows.push({
          metric: "1M events/s: no drops, CPU",
          result: `${noDrops ? "no drops" : `${num((drops / generated) * 100, 2)}% dropped`}, CPU ${mmm(cpu, "%")}`,
          target: "no drops, < 50%",
          prototype: "drops above ~115k/s",
          verdict: !noDrops ? `**missed**: ${drops} of ${generated} dropped` : atMost(cpu.median, 50, " points"),
          note: `generator achieved ${num(achieved / 1000)}k/s`,
        });
      if (rate === 2_000_000)
        rows.push({
          metric: "2M events/s",
          result: `${noDrops ? "no drops" : `${num((drops / generated) * 100, 2)}% dropped`}, CPU ${mmm(cpu, "%")}`,
          prototype: "41% dropped at 200k/s",
          note: `generator achieved ${num(achieved / 1000)}k/s (${num((achieved / rate) * 100)}% of 2M)${achieved < rate * 0.95 ? ": the generator cannot reach 2M/s here" : ""}`,
        });
    }
} finally {
  gen.close();
}
const maxClean = detail.filter((r) => r[5] === "0").map((r) => Number(r[1]!.replace(/k\/s.*/, "")) * 1000);
rows.unshift({
  metric: "highest rate without drops",
  result: `${num(Math.max(...maxClean) / 1000)}k events/s`,
  target: "≥ 1M/s",
  prototype: "~115k/s",
  verdict: atLeast(Math.max(...maxClean), 1e6 * 0.95, "/s"),
  note: "rate the generator achieved (≥ 95% of 1M counts)",
});
// The floor: Bun's event loop waking for a bare timer (no aod code).
const floor = JSON.parse(
  Bun.spawnSync([BUN, join(import.meta.dir, "timer-floor.ts")], { stdout: "pipe" }).stdout.toString(),
) as { wakeups: number; usPerWakeup: number; pct: number };
rows.push({
  metric: "Bun's own wakeup cost (a bare 40 ms timer, no aod code)",
  result: `${num(floor.usPerWakeup)} µs per wakeup (${num(floor.pct, 3)}% of a core at ${num(floor.wakeups / 10)} wakeups/s)`,
  note: "the floor under each of the reader's main-thread wakeups: at 25 wakeups/s, 0.1% of a core is spent before any work",
});

const extra = `Per rate (${SECONDS} s each; a fresh daemon per rate; generated = getppid() calls × burst; lost = the ring's kernel-side drop count):

${table(["rate asked", "achieved", "generated", "delivered", "lost (ring full)", "drops", "aod CPU % per second", "aod CPU % whole run", "aod RSS MB (before → max)", "waiter / main thread wakeups per s", "generator CPU %", "anomalies"], detail)}

Where aod's CPU goes per thread (as it ships; schedstat run time; a thread's wakeups are its voluntary switches). "aod" is the main thread (ring drains, detection); JITWorker, HeapHelper, "Heap Collector" and JSCWarmUp are JavaScriptCore's compiler and garbage collector; mi-scavenger is mimalloc returning freed memory; Worker is the ring waiter:

${table(["rate", "thread", "% of one core", "wakeups/s", "µs per wakeup"], threads)}`;
report("2. Sustained ingest", rows, extra, (performance.now() - t00) / 1000);
