// Shared by the benchmark scenarios (scripts/bench/NN-*.ts): where things are,
// the machine's description, statistics, /proc readings, driving `aod run`
// with the load generator, tables, and appending results to BENCHMARKS.md.
//
// Benchmarks measure whole processes on a shared, noisy machine: every figure
// is min / median / max over repetitions, and comparisons run both sides in
// the same invocation.
import { dlopen, FFIType } from "bun:ffi";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const AOD = join(ROOT, "dist/aod");
export const LOADGEN = join(ROOT, "build/test/ringtest.bpf.o");
export const BUN = process.execPath;
export const RESULTS_FILE = join(ROOT, "BENCHMARKS.md");
export const HZ = 100; // USER_HZ: /proc/PID/stat times are in these ticks

export const libc = dlopen("libc.so.6", { getppid: { args: [], returns: FFIType.i32 } }).symbols;

// ---------------------------------------------------------------- machine

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  kernel: string;
  bun: string;
  commit: string;
  aod: string;
  load: string;
}

const sh = (argv: string[]) => {
  const r = Bun.spawnSync(argv, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : "";
};

export function machine(): Machine {
  const cpu = (readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "?").trim();
  const dirty = sh(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "bpf", "config"])
    ? " (+ uncommitted changes in src/bpf/config)"
    : "";
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    nproc: navigator.hardwareConcurrency,
    cpu,
    kernel: sh(["uname", "-r"]),
    bun: Bun.version,
    commit: (sh(["git", "rev-parse", "--short", "HEAD"]) || "?") + dirty,
    aod: existsSync(AOD) ? sh([AOD, "--version"]) : "not built",
    load: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
  };
}

export const describeMachine = (m: Machine) =>
  `${m.date} · ${m.nproc} CPU (${m.cpu}) · kernel ${m.kernel} · Bun ${m.bun} · commit ${m.commit} · aod ${m.aod} · load avg at start ${m.load}`;

// ---------------------------------------------------------------- statistics

export interface Summary {
  n: number;
  min: number;
  median: number;
  max: number;
}

export function summarize(xs: number[]): Summary {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return { n: 0, min: NaN, median: NaN, max: NaN };
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { n: s.length, min: s[0]!, median, max: s[s.length - 1]! };
}

/** A number with about 3 significant digits (no exponent). */
export function num(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return "–";
  if (x === 0) return "0";
  const a = Math.abs(x);
  const decimals = a >= 100 ? 0 : Math.max(0, digits - 1 - Math.floor(Math.log10(a)));
  return x.toFixed(Math.min(decimals, 4));
}

/** "min / median / max unit" */
export const mmm = (s: Summary, unit = "", digits = 3) =>
  s.n ? `${num(s.min, digits)} / ${num(s.median, digits)} / ${num(s.max, digits)}${unit ? ` ${unit}` : ""}` : "–";

/** "met" or "missed by X" for a value that must stay at or below `limit`. */
export function atMost(value: number, limit: number, unit = ""): string {
  if (!Number.isFinite(value)) return "not measured";
  if (value <= limit) return "met";
  return `**missed** by ${num(value - limit)}${unit} (${num(value / limit, 2)}×)`;
}

export function atLeast(value: number, limit: number, unit = ""): string {
  if (!Number.isFinite(value)) return "not measured";
  if (value >= limit) return "met";
  return `**missed** by ${num(limit - value)}${unit} (${num(value / limit, 2)}×)`;
}

// ---------------------------------------------------------------- /proc

export interface CpuSample {
  /** utime + stime of the whole process (all threads, dead ones too), ticks. */
  ticks: number;
  /** Sum of the live threads' run time from schedstat, ns (finer than ticks). */
  runNs: number;
  /** When it was taken (performance.now(), ms). */
  at: number;
}

export function cpuSample(pid: number): CpuSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]); // fields 14 and 15 (utime, stime)
  let runNs = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        runNs += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      } catch {}
    }
  } catch {}
  return { ticks, runNs, at: performance.now() };
}

/** % of one core between two samples: from schedstat when it has data, else ticks. */
export function cpuPercent(a: CpuSample, b: CpuSample): { pct: number; pctTicks: number } {
  const wallMs = b.at - a.at;
  const pctTicks = (((b.ticks - a.ticks) * 1000) / HZ / wallMs) * 100;
  const pct = b.runNs > 0 && b.runNs >= a.runNs ? ((b.runNs - a.runNs) / 1e6 / wallMs) * 100 : pctTicks;
  return { pct, pctTicks };
}

export interface MemSample {
  rssMB: number;
  hwmMB: number;
  threads: number;
}

export function memSample(pid: number): MemSample {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(s.match(new RegExp(`^${k}:\\s*(\\d+)`, "m"))?.[1] ?? NaN);
  return { rssMB: kb("VmRSS") / 1024, hwmMB: kb("VmHWM") / 1024, threads: kb("Threads") };
}

/** RSS by mapping (smaps), grouped: the binary, anonymous memory, memfd libraries, other files. */
export function rssBreakdown(pid: number, byPerms = false): { name: string; rssKB: number; anonKB: number }[] {
  const text = readFileSync(`/proc/${pid}/smaps`, "utf8");
  const groups = new Map<string, { rssKB: number; anonKB: number }>();
  let cur = "";
  for (const line of text.split("\n")) {
    const head = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
    if (head) {
      const path = head[1]!.trim();
      const perms = line.split(" ")[1]!;
      cur =
        path === ""
          ? "[anonymous]"
          : path.startsWith("/memfd:")
            ? `memfd ${path.slice(7).replace(/ \(deleted\)$/, "")}`
            : path;
      if (byPerms && path.startsWith("/") && !path.startsWith("/memfd:")) cur += ` ${perms}`;
      continue;
    }
    const m = line.match(/^(Rss|Anonymous):\s+(\d+) kB/);
    if (m) {
      const g = groups.get(cur) ?? { rssKB: 0, anonKB: 0 };
      if (m[1] === "Rss") g.rssKB += Number(m[2]);
      else g.anonKB += Number(m[2]);
      groups.set(cur, g);
    }
  }
  return [...groups.entries()].map(([name, g]) => ({ name, ...g })).sort((a, b) => b.rssKB - a.rssKB);
}

// ---------------------------------------------------------------- temp dirs

const temps: string[] = [];
export function tempDir(prefix = "aod-bench-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}
process.on("exit", () => {
  if (process.env.AOD_BENCH_KEEP) return;
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------- the daemon

export interface LogLine {
  /** performance.now() when the line reached us. */
  at: number;
  /** The line's own time (epoch ms). */
  timeMs: number;
  msg: string;
  /** The rest of the JSON log line (e.g. the "stopped" line's events, anomalies, bundles). */
  [k: string]: unknown;
}

export interface DaemonOptions {
  /** YAML after `aod_output_dir` (written for you). */
  config: string;
  /** Process whose getppid() calls make events (default: this one). */
  loadgenPid?: number;
  set?: Record<string, number | bigint>;
  /** `aod _loadgen --reader-max-lag`: the reader's longest poll interval (ms); default: aod's. */
  readerMaxLagMs?: number;
  /**
   * Private mount namespace with its own /run/aod, so that the instance lock
   * does not collide with other aods on this shared machine (tests running
   * beside the benchmarks) — and so they do not collide with ours.
   */
  isolate?: boolean;
  readyTimeoutMs?: number;
  /** `aod run` on the config alone (real tools; no load generator) instead of `aod _loadgen`. */
  run?: boolean;
}

export class Daemon {
  readonly lines: LogLine[] = [];
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  private stderrText = "";
  readonly exited: Promise<number>;
  exitedAt?: number;

  private constructor(
    readonly proc: ReturnType<typeof Bun.spawn>,
    readonly dir: string,
    readonly spawnedAt: number,
  ) {
    this.exited = proc.exited.then((c) => {
      this.exitedAt = performance.now();
      return c;
    });
    void this.pump(proc.stderr as ReadableStream<Uint8Array>);
  }

  get pid(): number {
    return this.proc.pid;
  }
  get batches(): string {
    return join(this.dir, "out/batches");
  }
  get stderr(): string {
    return this.stderrText;
  }

  static spawn(opts: DaemonOptions): Daemon {
    const dir = tempDir();
    const cfg = join(dir, "config.yaml");
    writeFileSync(cfg, `aod_output_dir: ${dir}/out\n${opts.config}`, { mode: 0o600 });
    const set = Object.entries(opts.set ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    let argv = opts.run
      ? [AOD, "run", "--config", cfg]
      : [
          AOD,
          "_loadgen",
          "--config",
          cfg,
          "--loadgen",
          LOADGEN,
          "--loadgen-pid",
          String(opts.loadgenPid ?? process.pid),
          ...(set ? ["--loadgen-set", set] : []),
          ...(opts.readerMaxLagMs !== undefined ? ["--reader-max-lag", String(opts.readerMaxLagMs)] : []),
        ];
    if (opts.isolate ?? true)
      argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mkdir -p /run/aod && mount -t tmpfs -o mode=0755 aod-bench /run/aod && exec "$@"',
        "sh",
        ...argv,
      ];
    const t0 = performance.now();
    const proc = Bun.spawn(argv, {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      env: { ...process.env, AOD_LOG_LEVEL: process.env.AOD_LOG_LEVEL ?? "info" },
    });
    return new Daemon(proc, dir, t0);
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    for (let attempt = 0; ; attempt++) {
      const d = Daemon.spawn(opts);
      const ok = await Promise.race([
        d.waitFor((l) => l.msg === "ready", opts.readyTimeoutMs ?? 15_000).then(() => true),
        d.exited.then(() => false),
      ]);
      if (ok) return d;
      await d.exited;
      if (d.stderr.includes("another aod is already running") && attempt < 30) {
        await Bun.sleep(1000); // someone else's daemon (tests): wait our turn
        continue;
      }
      throw new Error(`aod run did not become ready (exit ${d.proc.exitCode}):\n${d.stderr.slice(-3000)}`);
    }
  }

  private async pump(stream: ReadableStream<Uint8Array>) {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      const at = performance.now();
      const text = dec.decode(chunk, { stream: true });
      this.stderrText += text;
      if (this.stderrText.length > 1 << 20) this.stderrText = this.stderrText.slice(-(1 << 19));
      buf += text;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const raw = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let line: LogLine;
        try {
          const j = JSON.parse(raw);
          line = { ...j, at, timeMs: Date.parse(j.time), msg: String(j.msg) };
        } catch {
          line = { at, timeMs: Date.now(), msg: raw };
        }
        this.lines.push(line);
        if (this.lines.length > 20_000) this.lines.splice(0, 10_000);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    }
  }

  /** The first line (from now on, or already seen when `past`) matching pred. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, past = false): Promise<LogLine> {
    if (past) {
      const seen = this.lines.find(pred);
      if (seen) return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for a log line; last lines:\n${this.stderrText.slice(-2000)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  count(msg: string): number {
    return this.lines.filter((l) => l.msg === msg).length;
  }

  /** SIGTERM; resolves with the exit code, the time to exit and the "stopped" line. */
  async stop(timeoutMs = 30_000): Promise<{ code: number; exitMs: number; stoppedMs: number; stopped?: LogLine }> {
    const t0 = performance.now();
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    await Bun.sleep(20); // let the last stderr chunk arrive
    const stopped = this.lines.findLast((l) => l.msg === "stopped");
    return { code, exitMs: this.exitedAt! - t0, stoppedMs: stopped ? stopped.at - t0 : NaN, stopped };
  }

  kill(): void {
    try {
      this.proc.kill("SIGKILL");
    } catch {}
  }
}

/** Samples CPU and memory of a process every `everyMs` while running. */
export class ProcWatch {
  private timer?: ReturnType<typeof setInterval>;
  peakRssMB = 0;
  readonly rss: { at: number; mb: number }[] = [];
  constructor(
    readonly pid: number,
    everyMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  private sample() {
    try {
      const m = memSample(this.pid);
      this.peakRssMB = Math.max(this.peakRssMB, m.rssMB, m.hwmMB);
      this.rss.push({ at: performance.now(), mb: m.rssMB });
    } catch {}
  }
  stop() {
    clearInterval(this.timer);
  }
}

// ---------------------------------------------------------------- the generator

/**
 * Calls getppid() `rate / burst` times a second for `seconds`, paced in 1 ms
 * slices: each slice makes up what is due since the start, so a late slice
 * catches up; a backlog beyond `maxCatchUpMs` is dropped (and shows as a lower
 * achieved rate, which is reported).
 */
export async function generate(
  ratePerSec: number,
  burst: number,
  seconds: number,
  maxCatchUpMs = 50,
): Promise<{ calls: number; seconds: number }> {
  const callsPerMs = ratePerSec / burst / 1000;
  const cap = Math.max(1, Math.ceil(callsPerMs * maxCatchUpMs));
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let due0 = 0; // calls given up on
  let calls = 0;
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    let n = Math.floor((now - t0) * callsPerMs) - due0 - calls;
    if (n > cap) {
      due0 += n - cap;
      n = cap;
    }
    for (let i = 0; i < n; i++) libc.getppid();
    calls += n;
    await Bun.sleep(1);
  }
  return { calls, seconds: (performance.now() - t0) / 1000 };
}

/** The generator as a separate process (scripts/bench/gen.ts), so its CPU is not the harness's. */
export class Generator {
  readonly proc: ReturnType<typeof Bun.spawn>;
  private out = "";
  private readonly ready: Promise<void>;
  constructor() {
    const proc = Bun.spawn([BUN, join(import.meta.dir, "gen.ts")], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    });
    this.proc = proc;
    const reader = (async () => {
      for await (const c of proc.stdout as ReadableStream<Uint8Array>) this.out += new TextDecoder().decode(c);
    })();
    void reader;
    this.ready = this.nextLine().then(() => {});
  }
  get pid() {
    return this.proc.pid;
  }
  private consumed = 0;
  private async nextLine(): Promise<string> {
    for (;;) {
      const nl = this.out.indexOf("\n", this.consumed);
      if (nl >= 0) {
        const line = this.out.slice(this.consumed, nl);
        this.consumed = nl + 1;
        return line;
      }
      if (this.proc.exitCode !== null) throw new Error("generator exited");
      await Bun.sleep(5);
    }
  }
  /** Runs one load step; resolves with calls made, seconds taken and the generator's CPU %. */
  async run(rate: number, burst: number, seconds: number): Promise<{ calls: number; seconds: number; cpuPct: number }> {
    await this.ready;
    const stdin = this.proc.stdin as import("bun").FileSink;
    stdin.write(`${JSON.stringify({ rate, burst, seconds })}\n`);
    stdin.flush();
    return JSON.parse(await this.nextLine());
  }
  close() {
    try {
      (this.proc.stdin as import("bun").FileSink).end();
    } catch {}
    this.proc.kill();
  }
}

// ---------------------------------------------------------------- output

export interface Row {
  metric: string;
  result: string;
  target?: string;
  prototype?: string;
  verdict?: string;
  note?: string;
}

export function table(headers: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [
    `| ${headers.join(" | ")} |`,
    `|${headers.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

const rowTable = (rows: Row[]) =>
  table(
    ["metric", "result (min / median / max)", "target", "prototype", "verdict", "note"],
    rows.map((r) => [r.metric, r.result, r.target ?? "", r.prototype ?? "", r.verdict ?? "", r.note ?? ""]),
  );

/**
 * Prints the scenario's table and appends it to BENCHMARKS.md under the run's
 * heading (the runner writes one per `make bench`; a scenario run on its own
 * writes its own). `extra` is printed and recorded below the table.
 */
export function report(title: string, rows: Row[], extra = "", wallSec?: number): void {
  const body = `${rowTable(rows)}${extra ? `\n\n${extra.trim()}` : ""}`;
  console.log(`\n== ${title}${wallSec ? ` (${wallSec.toFixed(0)} s)` : ""}\n${body}\n`);
  if (process.env.AOD_BENCH_NO_RECORD) return;
  let out = "";
  if (!process.env.AOD_BENCH_RUN_HEADER) out += `\n### ${describeMachine(machine())}\n`;
  out += `\n#### ${title}${wallSec ? ` (took ${wallSec.toFixed(0)} s)` : ""}\n\n${body}\n`;
  appendFileSync(RESULTS_FILE, out);
}

/** Checks every scenario needs: root, the binary and the generator object. */
export function preflight(needBpf = true): void {
  const missing: string[] = [];
  if (!existsSync(AOD)) missing.push("dist/aod (make build)");
  if (needBpf && !existsSync(LOADGEN)) missing.push("build/test/ringtest.bpf.o (make build/test/ringtest.bpf.o)");
  if (needBpf && process.geteuid?.() !== 0) missing.push("root (BPF)");
  if (missing.length) {
    console.error(`cannot run: missing ${missing.join(", ")}`);
    process.exit(2);
  }
}

export const sleep = (ms: number) => Bun.sleep(ms);

/**
 * Records the ring had no room for, read from the daemon's own `lost` map
 * (found through its fds' map ids) while it runs: the "stopped" line cannot
 * say, the source is closed by then.
 */
export function lostEvents(pid: number): number {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8").match(/^map_id:\s*(\d+)/m);
      if (m) ids.add(Number(m[1]));
    } catch {}
  }
  const maps: { id: number; name: string }[] = JSON.parse(sh(["bpftool", "-j", "map", "show"]) || "[]");
  const lost = maps.find((m) => m.name === "lost" && ids.has(m.id));
  if (!lost) return NaN;
  const dump: { formatted?: { values: { value: number }[] }; values?: { value: unknown }[] }[] = JSON.parse(
    sh(["bpftool", "-j", "map", "dump", "id", String(lost.id)]) || "[]",
  );
  let n = 0;
  for (const e of dump) for (const v of e.formatted?.values ?? []) n += Number(v.value);
  return n;
}

/** Voluntary context switches of each thread, by thread name (how often each woke up). */
export function threadSwitches(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim();
      const n = Number(
        readFileSync(`/proc/${pid}/task/${t}/status`, "utf8").match(/^voluntary_ctxt_switches:\s*(\d+)/m)?.[1],
      );
      out.set(comm, (out.get(comm) ?? 0) + n);
    } catch {}
  }
  return out;
}

/** CPU time (ns, from schedstat: exact, not clock ticks) and voluntary switches per thread name. */
export function threadCpu(pid: number): Map<string, { ns: number; switches: number }> {
  const out = new Map<string, { ns: number; switches: number }>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      const n = Number(
        readFileSync(`/proc/${pid}/task/${t}/status`, "utf8").match(/^voluntary_ctxt_switches:\s*(\d+)/m)?.[1],
      );
      const o = out.get(comm) ?? { ns: 0, switches: 0 };
      out.set(comm, { ns: o.ns + ns, switches: o.switches + n });
    } catch {}
  }
  return out;
}

/** Per thread name between two threadCpu() samples: % of one core and µs per wakeup. */
export function threadCpuDelta(
  a: Map<string, { ns: number; switches: number }>,
  b: Map<string, { ns: number; switches: number }>,
  seconds: number,
): { thread: string; pct: number; wakeupsPerSec: number; usPerWakeup: number }[] {
  const out = [];
  for (const [thread, v] of b) {
    const u = a.get(thread) ?? { ns: 0, switches: 0 };
    const ns = v.ns - u.ns;
    const sw = v.switches - u.switches;
    if (ns <= 0) continue;
    out.push({
      thread,
      pct: (ns / 1e9 / seconds) * 100,
      wakeupsPerSec: sw / seconds,
      usPerWakeup: sw ? ns / sw / 1000 : NaN,
    });
  }
  return out.sort((x, y) => y.pct - x.pct);
}

export interface MemSplit {
  rss: number;
  anon: number;
  file: number;
}

/** RSS in MB, split: anonymous pages, and the rest (file-backed and shared mappings, the BPF ring). */
export function memSplit(pid: number): MemSplit {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0);
  const rss = kb("Rss") / 1024;
  const anon = kb("Anonymous") / 1024;
  return { rss, anon, file: rss - anon };
}
