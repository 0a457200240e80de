// The daemon start `aod run` and the hidden `aod _loadgen` share: config,
// root check, the daemon with the event source the command builds, until it
// stops. A module of the commands, not a command.
import type { DaemonOptions } from "../daemon/daemon";
import { log } from "../log";
import { loadConfig } from "../registry";
import { AodError } from "../util/errors";

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
  const uploader = config.upload
    ? (await import("../upload/make-target")).makeUploader(config, config.upload)
    : undefined;
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
