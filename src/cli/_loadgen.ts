// `aod _loadgen`: hidden (not in `aod --help`), for tests and benchmarks. The
// daemon of `aod run`, fed by a load-generator BPF object (test/fixtures)
// instead of the SMB tools.
import { defineCommand } from "citty";
import { UsageError } from "../util/errors";
import { runDaemon } from "./_daemon";
import { configArg, parseNumberArg } from "./_shared";

/** `--loadgen-set K=V,...`: the generator's rodata (integers; bigint beyond 2^53). */
export function parseLoadgenSet(text: string | undefined): Record<string, number | bigint> {
  const rodata: Record<string, number | bigint> = {};
  for (const kv of (text ?? "").split(",").filter(Boolean)) {
    const [k, v] = kv.split("=");
    if (!k || v === undefined || !/^-?\d+$/.test(v))
      throw new UsageError(`--loadgen-set: expected NAME=INTEGER, found ${JSON.stringify(kv)}`);
    rodata[k] = Number.isSafeInteger(Number(v)) ? Number(v) : BigInt(v);
  }
  return rodata;
}

export default defineCommand({
  meta: {
    name: "_loadgen",
    description:
      "(testing, benchmarks) Run the agent on events from a load-generator BPF object instead of the SMB tools. Needs root.",
  },
  args: {
    ...configArg,
    loadgen: {
      type: "string",
      description: "The load-generator BPF object to read events from",
      valueHint: "OBJ",
      required: true,
    },
    "loadgen-pid": {
      type: "string",
      description: "Process whose getppid() calls the load generator turns into events",
      valueHint: "PID",
      required: true,
    },
    "loadgen-set": {
      type: "string",
      description: "Generator settings, e.g. burst=20,latency_ns=100000000,tool=1,rc=-13",
      valueHint: "K=V,...",
    },
    "reader-max-lag": {
      type: "string",
      description:
        "The ring reader's longest poll interval while events stream, ms (default 40; 5 = the reader before adaptive polling)",
      valueHint: "MS",
    },
  },
  async run({ args }) {
    const pid = parseNumberArg("--loadgen-pid", args["loadgen-pid"], { min: 1, int: true });
    if (pid === undefined) throw new UsageError("--loadgen needs --loadgen-pid PID");
    const rodata = parseLoadgenSet(args["loadgen-set"]);
    const maxLagMs = parseNumberArg("--reader-max-lag", args["reader-max-lag"], { min: 0 });
    await runDaemon("_loadgen", args.config, async (config) => {
      const { LoadgenSource } = await import("../tools/loadgen-source");
      const source = new LoadgenSource({ objectPath: args.loadgen, targetPid: pid, rodata, maxLagMs });
      if (!config.metrics) return { source };
      // Metrics: the generator keeps no kernel histograms; count its events' latencies in user space.
      const { withCountedHistograms } = await import("../metrics/counted-histograms");
      return { source: withCountedHistograms(source) };
    });
  },
});
