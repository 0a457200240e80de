// `aod install` / `aod uninstall` as a list of steps: printed by --dry-run,
// carried out otherwise. Each step is idempotent.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { DEFAULT_CONFIG_TEXT } from "../config/load";
import { AodError } from "../util/errors";

export interface Step {
  what: string;
  run(): void;
}

export const hasSystemd = () => existsSync("/run/systemd/system");

/** Writes a file atomically (temp file in the same directory, then rename). */
export function writeAtomic(path: string, data: string | Uint8Array, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = `${path}.aod-tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function copyAtomic(from: string, to: string, mode: number): void {
  mkdirSync(dirname(to), { recursive: true, mode: 0o755 });
  const tmp = `${to}.aod-tmp-${process.pid}`;
  try {
    copyFileSync(from, tmp);
    chmodSync(tmp, mode);
    renameSync(tmp, to);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function systemctl(...args: string[]): Step {
  return {
    what: `systemctl ${args.join(" ")}`,
    run() {
      const r = Bun.spawnSync(["systemctl", ...args], { stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0)
        throw new AodError(
          `systemctl ${args.join(" ")} failed: ${r.stderr.toString().trim() || `exit ${r.exitCode}`}`,
          1,
        );
    },
  };
}

/** The config text to install: the user's file, or the default with --output applied. */
export function configTextFor(source: string | undefined, outputDir: string | undefined): string {
  let text = source ? readFileSync(source, "utf8") : DEFAULT_CONFIG_TEXT;
  if (outputDir) {
    if (/^aod_output_dir:.*$/m.test(text)) text = text.replace(/^aod_output_dir:.*$/m, `aod_output_dir: ${outputDir}`);
    else text = `aod_output_dir: ${outputDir}\n${text}`;
  }
  return text;
}
