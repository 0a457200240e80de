// `aod monitor` and `aod disk`: the /proc parsers, and the binary's numbers
// cross-checked against /proc read here.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cpuBusyPercent,
  parseCpuTimes,
  parseMemoryPercent,
  parseProcessTicks,
  parseRssMb,
  processCpuPercent,
  readMemoryPercent,
} from "../../src/perf/proc";
import { aod, BIN, binaryMissing, mean, readCsv } from "./_helpers";

const noBinary = binaryMissing();
const dir = mkdtempSync(join(tmpdir(), "aod-monitor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The test's own reading of /proc: aggregate cpu line as (busy, total) ticks, idle = idle + iowait. */
function procStat(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal; guest is inside user
  return { busy: total - f[3]! - f[4]!, total };
}
function memPercent(): number {
  const m = readFileSync("/proc/meminfo", "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(m)![1]);
  return (100 * (kb("MemTotal") - kb("MemAvailable"))) / kb("MemTotal");
}
const ticksOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
};
const rssMbOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

describe("/proc parsing", () => {
  test("CPU busy percent as psutil: iowait is idle, guest is not counted twice", () => {
    const a = parseCpuTimes("cpu  100 0 50 800 50 0 0 0 20 0\ncpu0 1 2 3\n");
    const b = parseCpuTimes("cpu  160 0 70 900 70 0 0 0 40 0\n");
    expect(a).toEqual({ total: 1000, idle: 850 });
    // Δtotal = 60+20+100+20 = 200; Δidle = 120; busy 80 → 40 %
    expect(cpuBusyPercent(a, b)).toBe(40);
    expect(cpuBusyPercent(a, a)).toBe(0);
  });

  test("memory used percent = (MemTotal − MemAvailable) / MemTotal", () => {
    expect(parseMemoryPercent("MemTotal:       1000 kB\nMemFree:  10 kB\nMemAvailable:    250 kB\n")).toBe(75);
    expect(Math.abs(readMemoryPercent() - memPercent())).toBeLessThan(2);
  });

  test("a process's ticks and RSS, with spaces and parentheses in its name", () => {
    const stat = "42 (a (b) c) S 1 42 42 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 3 0 1000 100000 500";
    expect(parseProcessTicks(stat)).toBe(325);
    expect(parseRssMb("Name:\tx\nVmRSS:\t   2048 kB\n")).toBe(2);
    expect(processCpuPercent(100, 150, 0.5)).toBe(100); // 50 ticks = 0.5 s of CPU in 0.5 s
    expect(parseProcessTicks(readFileSync("/proc/self/stat", "utf8"))).toBe(ticksOf(process.pid));
  });
});

describe.skipIf(!!noBinary)("aod monitor", () => {
  test("system and aod columns agree with /proc read by the test", { timeout: 30_000 }, async () => {
    const busy = Bun.spawn([process.execPath, "-e", "for(;;){}"], { stdout: "ignore" });
    try {
      await Bun.sleep(300);
      const file = join(dir, "mon.csv");
      const s0 = procStat();
      const t0 = ticksOf(busy.pid);
      const at0 = performance.now();
      const r = aod(["monitor", "0.5", "0.05", "--pid", String(busy.pid), "-o", file], { cwd: dir });
      const seconds = (performance.now() - at0) / 1000;
      const s1 = procStat();
      const busyPct = (100 * (ticksOf(busy.pid) - t0)) / 100 / seconds;
      const sysPct = (100 * (s1.busy - s0.busy)) / (s1.total - s0.total);
      const rss = rssMbOf(busy.pid);
      const mem = memPercent();
      expect(r.code).toBe(0);
      const { header, rows } = readCsv(file);
      expect(header).toEqual(["Timestamp", "CPU_Percent", "Memory_Percent", "AOD_CPU_Percent", "AOD_RSS_MB"]);
      expect(rows.length).toBe(6); // 3 s at 0.5 s
      expect(r.stdout.trim().split("\n").length).toBe(6);
      for (const row of rows) {
        expect(row[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        for (const cell of row.slice(1)) expect(cell).toMatch(/^\d+\.\d$/);
      }
      // UTC: the last stamp is within a few seconds of now.
      expect(Math.abs(Date.parse(`${rows[5]![0]!.replace(" ", "T")}Z`) - Date.now())).toBeLessThan(5000);
      const col = (i: number) => rows.map((x) => Number(x[i]));
      expect(Math.abs(mean(col(1)) - sysPct)).toBeLessThan(15);
      expect(Math.min(...col(1))).toBeGreaterThan(30); // one of the two cores spins
      expect(Math.abs(mean(col(2)) - mem)).toBeLessThan(3);
      expect(Math.abs(mean(col(3)) - busyPct)).toBeLessThan(15);
      expect(mean(col(3))).toBeGreaterThan(50);
      expect(Math.abs(col(4)[5]! - rss) / rss).toBeLessThan(0.2);
      expect(r.stderr).toContain(`measuring aod as process ${busy.pid} (--pid)`);
    } finally {
      busy.kill();
    }
  });

  test("samples keep to the interval", { timeout: 30_000 }, () => {
    const file = join(dir, "grid.csv");
    const start = performance.now();
    const r = aod(["monitor", "1", "0.05", "-o", file], { cwd: dir });
    const elapsed = performance.now() - start;
    expect(r.code).toBe(0);
    const stamps = readCsv(file).rows.map((x) => Date.parse(`${x[0]!.replace(" ", "T")}Z`) / 1000);
    expect(stamps.length).toBe(3);
    expect(stamps[2]! - stamps[0]!).toBeGreaterThanOrEqual(1);
    expect(stamps[2]! - stamps[0]!).toBeLessThanOrEqual(3);
    expect(elapsed).toBeGreaterThan(2900);
    expect(elapsed).toBeLessThan(6000);
  });

  test("Ctrl-C stops early and leaves a valid file, no temporary left", { timeout: 30_000 }, async () => {
    const sub = join(dir, "int");
    mkdirSync(sub);
    const file = join(sub, "int.csv");
    const p = Bun.spawn([BIN, "monitor", "0.2", "0", "-o", file], { cwd: sub, stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(1500);
    p.kill("SIGINT");
    expect(await p.exited).toBe(0);
    expect(readdirSync(sub)).toEqual(["int.csv"]);
    const { header, rows } = readCsv(file);
    expect(header.slice(0, 3)).toEqual(["Timestamp", "CPU_Percent", "Memory_Percent"]);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(readFileSync(file, "utf8").endsWith("\n")).toBe(true);
    expect(await new Response(p.stderr).text()).toMatch(/stopped early: \d+ samples written to/);
  });

  test("bad arguments exit 2 with one message", { timeout: 30_000 }, () => {
    for (const [args, msg] of [
      [["0"], /INTERVAL_SEC expects a number of seconds > 0, got "0"/],
      [["1", "five"], /MINUTES expects a number of minutes ≥ 0, got "five"/],
      [["x"], /INTERVAL_SEC expects/],
      [["--pid", "999999999"], /--pid 999999999: no such process/],
      [["--pid", "abc"], /--pid expects a whole number ≥ 1, got "abc"/],
    ] as [string[], RegExp][]) {
      const r = aod(["monitor", ...args, "-o", join(dir, "never.csv")], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toMatch(msg);
      expect(r.stderr.trim().split("\n").length).toBe(1);
    }
    expect(readdirSync(dir)).not.toContain("never.csv");
  });
});

describe.skipIf(!!noBinary)("aod disk", () => {
  test("total size of the files under --path, ISO timestamps", () => {
    const tree = join(dir, "tree");
    mkdirSync(join(tree, "sub"), { recursive: true });
    writeFileSync(join(tree, "a.tar.zst"), Buffer.alloc(1024 * 1024));
    writeFileSync(join(tree, "sub", "b.tar.zst"), Buffer.alloc(512 * 1024));
    const file = join(dir, "disk.csv");
    const r = aod(["disk", "0.2", "0.01", "--path", tree, "-o", file], { cwd: dir });
    expect(r.code).toBe(0);
    const { header, rows } = readCsv(file);
    expect(header).toEqual(["Timestamp", "Disk_Usage_MB"]);
    expect(rows.length).toBe(3); // 0.6 s: at 0, 0.2 and 0.4 s
    for (const [stamp, mb] of rows) {
      expect(stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Number(mb)).toBe(1.5);
    }
  });

  test("the bundle directory from --config; missing counts as 0 MB with a warning", () => {
    const config = join(dir, "config.yaml");
    writeFileSync(config, `aod_output_dir: ${join(dir, "nowhere")}\n`);
    const file = join(dir, "missing.csv");
    const r = aod(["disk", "0.2", "0.005", "--config", config, "-o", file], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: ${join(dir, "nowhere", "batches")} does not exist; counting 0 MB`);
    const { rows } = readCsv(file);
    expect(rows.length).toBe(2);
    expect(rows.map((x) => Number(x[1]))).toEqual([0, 0]);
  });
});
