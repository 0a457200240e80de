// Reading /proc for `aod monitor`: whole-system CPU busy percent and memory used
// percent with psutil's meaning, and one process's CPU and resident memory.
import { readFileSync } from "node:fs";

/** USER_HZ: the unit of /proc CPU times; 100 on every Linux architecture aod runs on. */
export const CLOCK_TICKS = 100;

export interface CpuTimes {
  /** All time except guest/guest_nice (already counted in user/nice), in ticks. */
  total: number;
  /** idle + iowait, in ticks. */
  idle: number;
}

/** The aggregate `cpu` line of /proc/stat. */
export function parseCpuTimes(stat: string): CpuTimes {
  const line = stat.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) throw new Error("/proc/stat has no aggregate cpu line");
  const [
    user = 0,
    nice = 0,
    system = 0,
    idle = 0,
    iowait = 0,
    irq = 0,
    softirq = 0,
    steal = 0,
    guest = 0,
    guestNice = 0,
  ] = line.trim().split(/\s+/).slice(1).map(Number);
  const all = user + nice + system + idle + iowait + irq + softirq + steal + guest + guestNice;
  return { total: all - guest - guestNice, idle: idle + iowait };
}

/** Busy percent between two readings, as psutil.cpu_percent(interval) computes it. */
export function cpuBusyPercent(prev: CpuTimes, cur: CpuTimes): number {
  const total = cur.total - prev.total;
  if (total <= 0) return 0;
  const busy = total - (cur.idle - prev.idle);
  return Math.min(100, Math.max(0, (busy / total) * 100));
}

export function readCpuTimes(): CpuTimes {
  return parseCpuTimes(readFileSync("/proc/stat", "utf8"));
}

/** (MemTotal − MemAvailable) / MemTotal × 100, psutil.virtual_memory().percent. */
export function parseMemoryPercent(meminfo: string): number {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(meminfo);
    if (!m) throw new Error(`/proc/meminfo has no ${key}`);
    return Number(m[1]);
  };
  const total = kb("MemTotal");
  return ((total - kb("MemAvailable")) / total) * 100;
}

export function readMemoryPercent(): number {
  return parseMemoryPercent(readFileSync("/proc/meminfo", "utf8"));
}

/** utime + stime of all threads of a process, in ticks, from /proc/PID/stat. */
export function parseProcessTicks(stat: string): number {
  // The command name (field 2) may hold spaces and parentheses: fields after the last ")".
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return Number(rest[11]) + Number(rest[12]);
}

/** VmRSS of /proc/PID/status in MB (MiB). */
export function parseRssMb(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(status);
  return m ? Number(m[1]) / 1024 : 0; // kernel threads and zombies have no VmRSS
}

export interface ProcessReading {
  ticks: number;
  rssMb: number;
}

/** The process's CPU ticks and RSS, or undefined once it has gone. */
export function readProcess(pid: number): ProcessReading | undefined {
  try {
    const ticks = parseProcessTicks(readFileSync(`/proc/${pid}/stat`, "utf8"));
    const rssMb = parseRssMb(readFileSync(`/proc/${pid}/status`, "utf8"));
    return { ticks, rssMb };
  } catch {
    return undefined;
  }
}

/** CPU percent of one core used by a process over `seconds`. */
export function processCpuPercent(prevTicks: number, curTicks: number, seconds: number): number {
  if (seconds <= 0) return 0;
  return Math.max(0, ((curTicks - prevTicks) / CLOCK_TICKS / seconds) * 100);
}
