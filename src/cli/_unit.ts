// `aod _unit`: hidden (not in `aod --help`), for the packages
// (scripts/package/build.sh). Prints the systemd unit `aod install` would
// write for the embedded default config — the same function, so the packaged
// unit differs only in its paths and first comment line — or that config.
import { defineCommand } from "citty";
import { DEFAULT_CONFIG_TEXT, EMBEDDED_SOURCE } from "../config/load";
import { BIN_PATH, CONFIG_PATH, unitText } from "../install/unit";
import { parseConfigText } from "../registry";
import { UsageError } from "../util/errors";

export default defineCommand({
  meta: {
    name: "_unit",
    description:
      "(packaging) Print the systemd unit for the embedded default config, with the binary at --bin; or, with --default-config, that config.",
  },
  args: {
    bin: { type: "string", description: "Path of the binary in ExecStart", valueHint: "PATH", default: BIN_PATH },
    packaged: { type: "boolean", description: "The unit ships in a package (its first comment line)", default: false },
    "default-config": { type: "boolean", description: "Print the embedded default config instead", default: false },
  },
  run({ args }) {
    if (args["default-config"]) {
      process.stdout.write(DEFAULT_CONFIG_TEXT);
      return;
    }
    if (!args.bin.startsWith("/")) throw new UsageError(`--bin must be an absolute path, found ${args.bin}`);
    const config = parseConfigText(DEFAULT_CONFIG_TEXT, EMBEDDED_SOURCE);
    process.stdout.write(unitText(config, CONFIG_PATH, args.bin, args.packaged ? "package" : "install"));
  },
});
