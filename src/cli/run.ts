import { defineCommand } from "citty";
import { runDaemon } from "./_daemon";
import { configArg, examples } from "./_shared";

export default defineCommand({
  meta: {
    name: "run",
    description:
      "Run the agent (the default when no command is given): trace SMB commands, detect latency and error anomalies, and write a diagnostics bundle for each into <aod_output_dir>/batches. SIGUSR1 (or `aod snapshot`) collects a snapshot; SIGTERM/Ctrl-C stops cleanly. Needs root." +
      examples("sudo aod", "sudo aod run --config /etc/aod/config.yaml", "AOD_LOG_LEVEL=debug sudo aod run"),
  },
  args: configArg,
  async run({ args }) {
    await runDaemon("run", args.config, async (config) => {
      const [{ ToolSource }, { toolFilters }, { enrichWithShares }, { flightRecorder }, { smbProtocol }] =
        await Promise.all([
          import("../tools/tool-source"),
          import("../detect/types"),
          import("../host/shares"),
          import("../recorder/setup"),
          import("../tools/attach-plan"),
        ]);
      const recorder = flightRecorder(config);
      // The protocol's events exist once its module is loaded: enable them at each attach.
      const onAttached = () => recorder?.enableFor(smbProtocol);
      const source = new ToolSource("smb", toolFilters(config), { onAttached });
      return { source, enrich: enrichWithShares, recorder };
    });
  },
});
