import { existsSync, readFileSync, rmSync } from "node:fs";
import { defineCommand } from "citty";
import { hasSystemd, type Step, systemctl } from "../install/steps";
import { BIN_PATH, CONFIG_PATH, UNIT_PATH } from "../install/unit";
import { parseConfigText } from "../registry";
import { AodError, UsageError } from "../util/errors";
import { examples } from "./_shared";
import { packageOwning, runSteps } from "./install";

export default defineCommand({
  meta: {
    name: "uninstall",
    description:
      "Stop and disable the aod service, remove its unit and /usr/local/bin/aod. Keeps /etc/aod and the bundles unless --purge." +
      examples("sudo aod uninstall", "sudo aod uninstall --purge", "sudo aod uninstall --dry-run"),
  },
  args: {
    purge: { type: "boolean", description: "Also delete /etc/aod and the bundle directory", default: false },
    "dry-run": { type: "boolean", description: "Print what would be done, change nothing", default: false },
  },
  run({ args }) {
    const dry = args["dry-run"];
    // The package's unit and /etc/aod belong to the package manager: removing them here would break it.
    const owner = packageOwning();
    if (owner)
      throw new UsageError(
        `aod is installed by the ${owner.manager === "dpkg" ? "Debian" : "rpm"} package ${owner.name}; remove it with ${owner.manager === "dpkg" ? `sudo apt remove ${owner.name} (apt purge also deletes /etc/aod and the bundles)` : `sudo dnf remove ${owner.name} (or rpm -e)`}. Nothing was changed.`,
      );
    if (!hasSystemd())
      throw new UsageError("systemd is not running on this host: nothing to uninstall, nothing was changed");
    if (!dry && process.geteuid?.() !== 0) throw new AodError("aod uninstall needs root", 1);
    const steps: Step[] = [];
    if (existsSync(UNIT_PATH)) steps.push({ ...systemctl("disable", "--now", "aod.service") });
    steps.push(
      { what: `remove ${UNIT_PATH}`, run: () => rmSync(UNIT_PATH, { force: true }) },
      systemctl("daemon-reload"),
    );
    steps.push({ what: `remove ${BIN_PATH}`, run: () => rmSync(BIN_PATH, { force: true }) });
    if (args.purge) {
      let out: string | undefined;
      try {
        out = parseConfigText(readFileSync(CONFIG_PATH, "utf8"), CONFIG_PATH).aod_output_dir;
      } catch {
        out = "/var/log/aod";
      }
      steps.push({ what: `remove ${out} (bundles)`, run: () => rmSync(out!, { recursive: true, force: true }) });
      steps.push({ what: "remove /etc/aod", run: () => rmSync("/etc/aod", { recursive: true, force: true }) });
    } else console.log(`keeping ${CONFIG_PATH} and the bundles (--purge removes them)`);
    runSteps(steps, dry);
    console.log(dry ? "Dry run: nothing was changed." : "aod is uninstalled.");
  },
});
