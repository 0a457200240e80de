import { defineCommand } from "citty";
import { loadConfig } from "../config/load";
import type { DaemonOptions } from "../daemon/daemon";
import { log } from "../log";
import { configArg, examples } from "./_shared";
import { AodError, UsageError } from "./errors";

export default defineCommand({
  meta: {
    name: "run",
    description:
      "Run the agent (the default when no command is given): trace SMB commands, detect latency and error anomalies, and write a diagnostics bundle for each into <aod_output_dir>/batches. SIGUSR1 (or `aod snapshot`) collects a snapshot; SIGTERM/Ctrl-C stops cleanly. Needs root." +
      examples("sudo aod", "sudo aod run --config /etc/aod/config.yaml", "AOD_LOG_LEVEL=debug sudo aod run"),
  },
  args: {
    ...configArg,
    loadgen: {
      type: "string",
      description: "(testing, benchmarks) read events from this load-generator BPF object instead of the SMB tools",
      valueHint: "OBJ",
    },
    "loadgen-pid": {
      type: "string",
      description: "(testing) process whose getppid() calls the load generator turns into events",
      valueHint: "PID",
    },
    "loadgen-set": {
      type: "string",
      description: "(testing) generator settings, e.g. burst=20,latency_ns=100000000,tool=1,rc=-13",
      valueHint: "K=V,...",
    },
  },
  async run({ args }) {
    const config = loadConfig(args.config);
    for (const w of config.warnings) log.warn(`config: ${w}`);
    if (process.geteuid?.() !== 0)
      throw new AodError("aod run needs root to load its BPF programs (try: sudo aod run)", 1);
    let source: DaemonOptions["source"];
    let enrich: DaemonOptions["enrich"];
    if (args.loadgen) {
      const pid = Number(args["loadgen-pid"]);
      if (!(pid > 0)) throw new UsageError("--loadgen needs --loadgen-pid PID");
      const { LoadgenSource } = await import("../tools/loadgen-source");
      const rodata: Record<string, number | bigint> = {};
      for (const kv of (args["loadgen-set"] ?? "").split(",").filter(Boolean)) {
        const [k, v] = kv.split("=");
        if (!k || v === undefined || !/^-?\d+$/.test(v))
          throw new UsageError(`--loadgen-set: expected NAME=INTEGER, found ${JSON.stringify(kv)}`);
        rodata[k] = Number.isSafeInteger(Number(v)) ? Number(v) : BigInt(v);
      }
      source = new LoadgenSource({ objectPath: args.loadgen, targetPid: pid, rodata });
    } else {
      const smb = await import("../tools/smb-source");
      source = new smb.SmbSource({ config });
      enrich = smb.enrichWithShares;
    }
    const { Daemon } = await import("../daemon/daemon");
    const daemon = new Daemon({ config, source, enrich, onReady: () => log.info("ready") });
    await daemon.start();
    await daemon.finished;
  },
});
