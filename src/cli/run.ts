import { defineCommand } from "citty";
import { runDaemon } from "./_daemon";
import { configArg, examples } from "./_shared";

export default defineCommand({
  meta: {
    name: "run",
    description:
      "Run the agent (the default when no command is given): trace SMB commands and NFS RPCs, detect latency, error and connection anomalies, and write a diagnostics bundle for each into <aod_output_dir>/batches. SIGUSR1 (or `aod snapshot`) collects a snapshot; SIGHUP (`systemctl reload aod`) re-reads the config, keeping the running one when the new one is invalid; SIGTERM/Ctrl-C stops cleanly. Needs root." +
      examples("sudo aod", "sudo aod run --config /etc/aod/config.yaml", "AOD_LOG_LEVEL=debug sudo aod run"),
  },
  args: configArg,
  async run({ args }) {
    await runDaemon("run", args.config, async (config) => {
      const [{ sourceFor }, { toolFilters }, { enrichWithShares }, { flightRecorder }, { settleSoon }] =
        await Promise.all([
          import("../tools/sources"),
          import("../detect/types"),
          import("../host/shares"),
          import("../recorder/setup"),
          import("../daemon/settle"),
        ]);
      const recorder = flightRecorder(config);
      // A protocol's events exist once its module is loaded: enable them at each attach.
      // Per-share latency histograms in the kernel only for metrics.
      const source = sourceFor(toolFilters(config), {
        onAttached: (p) => {
          recorder?.enableFor(p);
          settleSoon(); // loading BPF ran code the steady state does not need
        },
        shareHistograms: config.metrics !== undefined,
      });
      return { source, enrich: enrichWithShares, recorder };
    });
  },
});
