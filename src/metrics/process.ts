// The standard process_* metrics of aod itself, as Prometheus client
// libraries expose them, from /proc/self: CPU time, resident and virtual
// memory, start time, open and maximum file descriptors.
import { readdirSync, readFileSync } from "node:fs";
import type { Family } from "./exposition";

const TICKS_PER_SEC = 100; // USER_HZ (sysconf(_SC_CLK_TCK)) on every Linux aod runs on
const PAGE_SIZE = 4096; // x86-64, the architecture aod is built for

/** Boot time (epoch s), from /proc/stat: constant for the life of the process. */
let bootTime: number | undefined;
function btime(): number {
  bootTime ??= Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1] ?? 0);
  return bootTime;
}

export interface ProcessStats {
  cpuSeconds: number;
  residentBytes: number;
  virtualBytes: number;
  startTimeSeconds: number;
  openFds: number;
  maxFds: number;
}

export function processStats(): ProcessStats {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
  const limits = readFileSync("/proc/self/limits", "utf8");
  const maxFiles = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  return {
    cpuSeconds: (Number(f[11]) + Number(f[12])) / TICKS_PER_SEC, // utime, stime (fields 14, 15)
    startTimeSeconds: btime() + Number(f[19]) / TICKS_PER_SEC, // starttime (22), ticks since boot
    virtualBytes: Number(f[20]), // vsize (23)
    residentBytes: Number(f[21]) * PAGE_SIZE, // rss (24), pages
    openFds: readdirSync("/proc/self/fd").length,
    maxFds: maxFiles === undefined || maxFiles === "unlimited" ? Number.POSITIVE_INFINITY : Number(maxFiles),
  };
}

/** The process_* families. */
export function processFamilies(s: ProcessStats = processStats()): Family[] {
  const one = (value: number) => [{ labels: "", value }];
  return [
    {
      name: "process_cpu_seconds",
      type: "counter",
      unit: "seconds",
      help: "Total user and system CPU time spent in seconds.",
      samples: one(s.cpuSeconds),
    },
    {
      name: "process_resident_memory_bytes",
      type: "gauge",
      unit: "bytes",
      help: "Resident memory size in bytes.",
      samples: one(s.residentBytes),
    },
    {
      name: "process_virtual_memory_bytes",
      type: "gauge",
      unit: "bytes",
      help: "Virtual memory size in bytes.",
      samples: one(s.virtualBytes),
    },
    {
      name: "process_start_time_seconds",
      type: "gauge",
      unit: "seconds",
      help: "Start time of the process since unix epoch in seconds.",
      samples: one(s.startTimeSeconds),
    },
    { name: "process_open_fds", type: "gauge", help: "Number of open file descriptors.", samples: one(s.openFds) },
    {
      name: "process_max_fds",
      type: "gauge",
      help: "Maximum number of open file descriptors.",
      samples: one(s.maxFds),
    },
  ];
}
