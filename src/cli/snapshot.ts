import { join } from "node:path";
import { defineCommand } from "citty";
import { BATCHES } from "../bundle/output-dir";
import { listBundles, openBundle } from "../bundle/read";
import { readDaemonPid } from "../daemon/lock";
import { loadConfig } from "../registry";
import { AodError, errorCode, errorMessage } from "../util/errors";
import { configArg, examples, parseNumberArg } from "./_shared";

export default defineCommand({
  meta: {
    name: "snapshot",
    description:
      'Ask the running daemon to collect every `watcher.actions` action into a bundle of type snapshot now ("it is slow right now"), wait for it and print its path. Same as sending SIGUSR1 to the daemon.' +
      examples("sudo aod snapshot", "sudo aod snapshot --timeout 120"),
  },
  args: {
    ...configArg,
    timeout: {
      type: "string",
      description: "Seconds to wait for the bundle (default: action_timeout_sec + 30)",
      valueHint: "SEC",
    },
  },
  async run({ args }) {
    const config = loadConfig(args.config);
    const timeoutSec =
      parseNumberArg("--timeout", args.timeout, { above: 0, unit: "seconds" }) ??
      config.collection.action_timeout_sec + 30;
    const pid = readDaemonPid();
    if (!pid)
      throw new AodError(
        "no running aod daemon found (/run/aod/aod.pid); start it with `sudo aod run` or `systemctl start aod`",
        1,
      );
    const dir = join(config.aod_output_dir, BATCHES);
    const before = new Set(listBundles(dir).map((b) => b.file));
    try {
      process.kill(pid, "SIGUSR1");
    } catch (e) {
      throw new AodError(
        `cannot signal aod (pid ${pid}): ${errorCode(e) === "EPERM" ? "permission denied; run as root" : errorMessage(e)}`,
        1,
      );
    }
    console.error(`asked aod (pid ${pid}) for a snapshot; waiting for the bundle…`);
    const deadline = Date.now() + 1000 * timeoutSec;
    while (Date.now() < deadline) {
      for (const b of listBundles(dir)) {
        if (before.has(b.file)) continue;
        before.add(b.file);
        const { anomaly } = await openBundle(b.path).catch(() => ({ anomaly: undefined }));
        if (anomaly?.type === "snapshot") {
          console.log(b.path);
          return;
        }
      }
      await Bun.sleep(200);
    }
    throw new AodError(`no snapshot bundle appeared in ${dir} in time; see the daemon's log (journalctl -u aod)`, 1);
  },
});
