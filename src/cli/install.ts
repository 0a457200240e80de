import { existsSync, readFileSync, realpathSync } from "node:fs";
import { defineCommand } from "citty";
import { configTextFor, copyAtomic, hasSystemd, type Step, systemctl, writeAtomic } from "../install/steps";
import { BIN_PATH, CONFIG_PATH, UNIT_PATH, unitText } from "../install/unit";
import { parseConfigText } from "../registry";
import { AodError, UsageError } from "../util/errors";
import { examples } from "./_shared";

export function runSteps(steps: Step[], dryRun: boolean): void {
  for (const s of steps) {
    console.log(`${dryRun ? "would " : ""}${s.what}`);
    if (!dryRun) s.run();
  }
}

/** The binary the deb and rpm packages (scripts/package) install. */
export const PACKAGED_BIN_PATH = "/usr/bin/aod";

export interface PackageOwner {
  manager: "dpkg" | "rpm";
  name: string;
}

type Run = (argv: string[]) => { code: number; stdout: string };
const runQuiet: Run = (argv) => {
  const r = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  return { code: r.exitCode, stdout: r.stdout.toString() };
};

/**
 * The deb or rpm package that owns `path` (asked of dpkg-query and rpm, each
 * only when installed, with an argv and no shell), or undefined.
 */
export function packageOwning(
  path = PACKAGED_BIN_PATH,
  which: (cmd: string) => string | null = Bun.which,
  run: Run = runQuiet,
): PackageOwner | undefined {
  if (which("dpkg-query")) {
    // "aod: /usr/bin/aod" (a Multi-Arch: same package: "aod:amd64: ...")
    const r = run(["dpkg-query", "-S", path]);
    const line = r.stdout.split("\n").find((l) => l.endsWith(`: ${path}`) && !l.startsWith("diversion "));
    if (r.code === 0 && line) return { manager: "dpkg", name: line.slice(0, -`: ${path}`.length).split(", ")[0]! };
  }
  if (which("rpm")) {
    const r = run(["rpm", "-qf", "--qf", "%{NAME}\\n", path]);
    const name = r.stdout.trim().split("\n")[0];
    if (r.code === 0 && name && /^[\w.+-]+$/.test(name)) return { manager: "rpm", name };
  }
  return undefined;
}

/** Why `aod install` refuses on a host where a package already installs aod, and what to do instead. */
export function packagedMessage(owner: PackageOwner, path = PACKAGED_BIN_PATH): string {
  const [what, remove, kept] =
    owner.manager === "dpkg"
      ? ["Debian package", `sudo apt remove ${owner.name}`, "keeps /etc/aod"]
      : [
          "rpm package",
          `sudo dnf remove ${owner.name} (or rpm -e)`,
          "a changed /etc/aod/config.yaml is kept as config.yaml.rpmsave",
        ];
  return (
    `${path} belongs to the ${what} "${owner.name}", which already runs aod as a service ` +
    "(/usr/lib/systemd/system/aod.service, config /etc/aod/config.yaml): nothing was changed. " +
    "Use the package's service (systemctl status aod; upgrade by installing a newer package). " +
    `To use the single binary instead, remove the package first: ${remove} (${kept}), then run aod install again.`
  );
}

export default defineCommand({
  meta: {
    name: "install",
    description:
      "Install aod as a hardened systemd service: copy this binary to /usr/local/bin/aod, write /etc/aod/config.yaml if absent (never overwrites yours), write /etc/systemd/system/aod.service, reload systemd, enable and start it. Safe to run again." +
      examples(
        "sudo ./aod install",
        "sudo ./aod install --config my.yaml --output /data/aod",
        "sudo ./aod install --dry-run",
      ),
  },
  args: {
    config: {
      type: "string",
      alias: "c",
      description: "Config to install as /etc/aod/config.yaml when none is there yet",
      valueHint: "FILE",
    },
    output: { type: "string", alias: "o", description: "aod_output_dir for a newly written config", valueHint: "DIR" },
    "dry-run": { type: "boolean", description: "Print what would be done, change nothing", default: false },
  },
  run({ args }) {
    const dry = args["dry-run"];
    const owner = packageOwning();
    if (owner) throw new UsageError(packagedMessage(owner));
    const noSystemd =
      "systemd is not running on this host (/run/systemd/system is missing): nothing was changed. Run `aod run` under your service manager instead.";
    if (!hasSystemd() && !dry) throw new UsageError(noSystemd);
    if (!dry && process.geteuid?.() !== 0) throw new AodError("aod install needs root (sudo ./aod install)", 1);
    if (args.output && !args.output.startsWith("/"))
      throw new UsageError(`--output must be an absolute path, found ${args.output}`);
    const configExists = existsSync(CONFIG_PATH);
    const text = configExists ? readFileSync(CONFIG_PATH, "utf8") : configTextFor(args.config, args.output);
    const config = parseConfigText(text, configExists ? CONFIG_PATH : (args.config ?? "embedded default config")); // refuse a bad config before changing anything
    const self = realpathSync(process.execPath);
    const steps: Step[] = [];
    if (self !== BIN_PATH)
      steps.push({
        what: `copy ${self} to ${BIN_PATH} (atomically, mode 0755)`,
        run: () => copyAtomic(self, BIN_PATH, 0o755),
      });
    if (configExists) {
      console.log(
        `keeping your ${CONFIG_PATH}${args.config || args.output ? " (--config/--output apply only when none exists)" : ""}`,
      );
    } else steps.push({ what: `write ${CONFIG_PATH} (mode 0600)`, run: () => writeAtomic(CONFIG_PATH, text, 0o600) });
    steps.push({ what: `write ${UNIT_PATH}`, run: () => writeAtomic(UNIT_PATH, unitText(config), 0o644) });
    steps.push(systemctl("daemon-reload"), systemctl("enable", "aod.service"), systemctl("restart", "aod.service"));
    runSteps(steps, dry);
    console.log(`
${dry ? "Dry run: nothing was changed." : "aod is installed and running."}
  status:    systemctl status aod
  logs:      journalctl -u aod -f
  snapshot:  sudo aod snapshot         (collect everything now)
  bundles:   aod bundles               (in ${config.aod_output_dir}/batches)
  config:    ${CONFIG_PATH}  (check with: aod config validate; then systemctl restart aod)
  remove:    sudo aod uninstall [--purge]`);
    if (!hasSystemd()) throw new UsageError(noSystemd);
  },
});
