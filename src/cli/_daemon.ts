// The daemon start `aod run` and the hidden `aod _loadgen` share: config,
// root check, the daemon with the event source the command builds, until it
// stops. A module of the commands, not a command.

import { join } from "node:path";
import { BATCHES, ensurePrivateDir } from "../bundle/output-dir";
import type { DaemonOptions } from "../daemon/daemon";
import { log } from "../log";
import { loadConfig } from "../registry";
import { AodError, errorMessage } from "../util/errors";

export type DaemonSource = Pick<DaemonOptions, "source" | "enrich" | "recorder">;
type Config = DaemonOptions["config"];

/** Runs the daemon until it stops (SIGTERM, Ctrl-C); `command` names it in the root error. */
export async function runDaemon(
  command: string,
  configFlag: string | undefined,
  makeSource: (config: Config) => Promise<DaemonSource>,
): Promise<void> {
  const config = loadConfig(configFlag);
  for (const w of config.warnings) log.warn(`config: ${w}`);
  // The verbose actions keep their saved settings in the state dir too.
  process.env.AOD_STATE_DIR ??= config.state_dir;
  if (process.geteuid?.() !== 0)
    throw new AodError(`aod ${command} needs root to load its BPF programs (try: sudo aod ${command})`, 1);
  const { source, enrich, recorder } = await makeSource(config);
  const { Daemon } = await import("../daemon/daemon");
  const metrics = config.metrics
    ? new (await import("../metrics/metrics")).Metrics(config.metrics, config.rules)
    : undefined;
  const uploader = config.upload ? await makeUploader(config) : undefined;
  const daemon = new Daemon({
    config,
    source,
    enrich,
    recorder,
    metrics,
    uploader,
    reload: () => loadConfig(configFlag),
    onReady: () => log.info("ready"),
  });
  await daemon.start();
  await daemon.finished;
}

/** The upload lane of `upload:`; a secret file that is missing or not root-only stops the start (exit 2). */
async function makeUploader(config: Config) {
  const [{ makeTarget }, { hostId }, { Uploader }] = await Promise.all([
    import("../upload/make-target"),
    import("../upload/host-id"),
    import("../upload/uploader"),
  ]);
  try {
    ensurePrivateDir(config.state_dir, "state dir", "state_dir");
    return new Uploader({
      config: config.upload!,
      stateDir: config.state_dir,
      batchesDir: join(config.aod_output_dir, BATCHES),
      target: makeTarget(config.upload!),
      hostId: hostId(config.state_dir),
    });
  } catch (e) {
    throw new AodError(`upload: ${errorMessage(e)}`, 2);
  }
}
