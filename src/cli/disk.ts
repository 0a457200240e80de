import { defineCommand } from "citty";
import { UsageError } from "../util/errors";
import { configArg, examples, parseNumberArg } from "./_shared";

export default defineCommand({
  meta: {
    name: "disk",
    description:
      "Sample the total size of aod's bundles (files under <aod_output_dir>/batches, or --path) into disk_usage_YYYYMMDD_HHMMSS.csv " +
      "(Timestamp in ISO 8601 UTC, Disk_Usage_MB). Runs until Ctrl-C unless MINUTES is given; a missing directory counts as 0 MB." +
      examples(
        "aod disk                         # every 5 s until Ctrl-C",
        "aod disk 10 30                   # every 10 s for 30 minutes",
        "aod disk 2 5 --path /var/log/aod/batches -o with_aod_disk.csv",
      ),
  },
  args: {
    interval: {
      type: "positional",
      required: false,
      description: "Seconds between samples (default 5)",
      valueHint: "INTERVAL_SEC",
    },
    minutes: {
      type: "positional",
      required: false,
      description: "Minutes to run (default: until stopped)",
      valueHint: "MINUTES",
    },
    path: {
      type: "string",
      description: "Directory to measure (default: <aod_output_dir>/batches of the config)",
      valueHint: "DIR",
    },
    output: {
      type: "string",
      alias: "o",
      description: "CSV file to write (default disk_usage_YYYYMMDD_HHMMSS.csv)",
      valueHint: "FILE",
    },
    ...configArg,
  },
  async run({ args }) {
    const { fileStamp, formatIsoStamp } = await import("../perf/time");
    const { directoryBytes } = await import("../perf/disk-usage");
    const { runSampler, status } = await import("../perf/sampler");
    const interval = parseNumberArg("INTERVAL_SEC", args.interval, { above: 0, unit: "seconds" }) ?? 5;
    const minutes = parseNumberArg("MINUTES", args.minutes, { min: 0, unit: "minutes" });
    if (args._.length > 2) throw new UsageError(`unexpected argument "${args._[2]}"`);

    let dir = args.path;
    if (!dir) {
      const { loadConfig } = await import("../registry");
      const { join } = await import("node:path");
      const config = loadConfig(args.config);
      for (const w of config.warnings) status(`warning: ${w}`);
      dir = join(config.aod_output_dir, "batches");
    }
    const file = args.output || `disk_usage_${fileStamp(new Date())}.csv`;
    status(`writing ${file}: size of ${dir} every ${interval} s, ${minutes ? `${minutes} min` : "until stopped"}`);
    let missing = false;

    const { samples, interrupted } = await runSampler({
      file,
      header: ["Timestamp", "Disk_Usage_MB"],
      intervalSec: interval,
      minutes,
      sampleAtStart: true,
      sample(now) {
        const bytes = directoryBytes(dir);
        if ((bytes === undefined) !== missing) {
          missing = bytes === undefined;
          status(missing ? `warning: ${dir} does not exist; counting 0 MB` : `${dir} exists now`);
        }
        const mb = (bytes ?? 0) / (1024 * 1024);
        const stamp = formatIsoStamp(now);
        return { fields: [stamp, mb], line: `${stamp}  ${mb.toFixed(3)} MB` };
      },
    });
    status(`${interrupted ? "stopped early: " : ""}${samples} samples written to ${file}`);
  },
});
