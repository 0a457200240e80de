import { defineCommand } from "citty";
import { UsageError } from "../util/errors";
import { examples, parseNumberArg } from "./_shared";

export default defineCommand({
  meta: {
    name: "monitor",
    description:
      "Sample whole-system CPU and memory percent (and aod's own CPU and RSS) into a CSV, for comparing a workload without and with aod. " +
      "Writes system_usage_YYYYMMDD_HHMMSS.csv (UTC) in the current directory unless -o is given. " +
      "Measures the running aod daemon (pid file /run/aod/aod.pid, else a process `aod run`) or --pid; Ctrl-C stops early and keeps the file." +
      examples(
        "aod monitor                      # every 1 s for 5 minutes",
        "aod monitor 2 10 -o baseline.csv # every 2 s for 10 minutes",
        "aod monitor 1 0 --pid 4242       # until Ctrl-C, measuring process 4242 as aod",
      ),
  },
  args: {
    interval: {
      type: "positional",
      required: false,
      description: "Seconds between samples (default 1)",
      valueHint: "INTERVAL_SEC",
    },
    minutes: {
      type: "positional",
      required: false,
      description: "Minutes to run; 0 runs until stopped (default 5)",
      valueHint: "MINUTES",
    },
    output: {
      type: "string",
      alias: "o",
      description: "CSV file to write (default system_usage_YYYYMMDD_HHMMSS.csv)",
      valueHint: "FILE",
    },
    pid: {
      type: "string",
      description: "Process to measure as aod (default: the running aod daemon, if any)",
      valueHint: "PID",
    },
  },
  async run({ args }) {
    const { fileStamp, formatSecondStamp } = await import("../perf/time");
    const proc = await import("../perf/proc");
    const { runSampler, status } = await import("../perf/sampler");
    const interval = parseNumberArg("INTERVAL_SEC", args.interval, { above: 0, unit: "seconds" }) ?? 1;
    const minutes = parseNumberArg("MINUTES", args.minutes, { min: 0, unit: "minutes" }) ?? 5;
    if (args._.length > 2) throw new UsageError(`unexpected argument "${args._[2]}"`);

    let pid: number | undefined;
    if (args.pid !== undefined) {
      pid = parseNumberArg("--pid", args.pid, { min: 1, int: true }) ?? 0;
      if (!proc.readProcess(pid)) throw new UsageError(`--pid ${pid}: no such process`);
      status(`measuring aod as process ${pid} (--pid)`);
    } else {
      const { findDaemon } = await import("../perf/find-daemon");
      const found = findDaemon();
      pid = found?.pid;
      status(
        found
          ? `measuring the aod daemon, process ${pid} (found by ${found.how})`
          : "no running aod daemon found: system columns only",
      );
    }

    const file = args.output || `system_usage_${fileStamp(new Date())}.csv`;
    const header = ["Timestamp", "CPU_Percent", "Memory_Percent", ...(pid ? ["AOD_CPU_Percent", "AOD_RSS_MB"] : [])];
    const r1 = (x: number) => x.toFixed(1); // psutil's one decimal
    let cpu = proc.readCpuTimes();
    let prevProc = pid ? proc.readProcess(pid) : undefined;
    let prevAt = performance.now();
    let gone = false;
    status(`writing ${file}: every ${interval} s, ${minutes ? `${minutes} min` : "until stopped"}`);

    const { samples, interrupted } = await runSampler({
      file,
      header,
      intervalSec: interval,
      minutes,
      sample(now) {
        const at = performance.now();
        const cur = proc.readCpuTimes();
        const cpuPct = r1(proc.cpuBusyPercent(cpu, cur));
        const memPct = r1(proc.readMemoryPercent());
        cpu = cur;
        const stamp = formatSecondStamp(now);
        const fields: (string | number)[] = [stamp, cpuPct, memPct];
        let line = `${stamp}  CPU ${cpuPct}%  Memory ${memPct}%`;
        if (pid) {
          const p = proc.readProcess(pid);
          if (p && prevProc) {
            const aodCpu = r1(proc.processCpuPercent(prevProc.ticks, p.ticks, (at - prevAt) / 1000));
            const rss = r1(p.rssMb);
            fields.push(aodCpu, rss);
            line += `  aod CPU ${aodCpu}%  aod RSS ${rss} MB`;
          } else {
            fields.push("", "");
            if (!p && !gone) status(`warning: process ${pid} has exited; its columns stay empty`);
            gone ||= !p;
          }
          prevProc = p;
        }
        prevAt = at;
        return { fields, line };
      },
    });
    status(`${interrupted ? "stopped early: " : ""}${samples} samples written to ${file}`);
  },
});
