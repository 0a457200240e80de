// Finds the running aod daemon, for `aod monitor` to measure: the pid in its pid
// file if that process is alive, else a process whose program is `aod` running
// the daemon: `run`, no subcommand, or the benchmarks' `_loadgen`.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename } from "node:path";

export const DAEMON_PID_FILE = "/run/aod/aod.pid";

export interface FoundDaemon {
  pid: number;
  how: "pid file" | "process scan";
}

export interface FindOptions {
  pidFile?: string;
  procDir?: string;
  /** Processes never taken for the daemon (default: this process and its parent). */
  exclude?: number[];
}

/** Options of aod's top level that take a value, so the value is not a subcommand. */
const OPTIONS_WITH_VALUE = new Set(["-c", "--config"]);

const DAEMON_COMMANDS = new Set(["run", "_loadgen"]);

/** Whether a command line (argv) is aod's daemon: program `aod`, subcommand `run`, `_loadgen` or none. */
export function isDaemonCommandLine(argv: string[]): boolean {
  if (!argv.length || basename(argv[0]!) !== "aod") return false;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return argv[i + 1] === undefined || DAEMON_COMMANDS.has(argv[i + 1]!);
    if (a.startsWith("-")) {
      if (OPTIONS_WITH_VALUE.has(a)) i++;
      continue;
    }
    return DAEMON_COMMANDS.has(a);
  }
  return true;
}

function readCmdline(procDir: string, pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`${procDir}/${pid}/cmdline`, "utf8");
    return raw.split("\0").filter((_, i, all) => i < all.length - 1 || all[i] !== "");
  } catch {
    return undefined;
  }
}

function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function findDaemon(opts: FindOptions = {}): FoundDaemon | undefined {
  const procDir = opts.procDir ?? "/proc";
  const exclude = new Set(opts.exclude ?? [process.pid, process.ppid]);
  const fromFile = readPidFile(opts.pidFile ?? DAEMON_PID_FILE);
  if (fromFile && !exclude.has(fromFile) && existsSync(`${procDir}/${fromFile}/cmdline`)) {
    return { pid: fromFile, how: "pid file" };
  }
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch {
    return undefined;
  }
  const pids = entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((p) => !exclude.has(p))
    .sort((a, b) => a - b);
  for (const pid of pids) {
    const argv = readCmdline(procDir, pid);
    if (argv && isDaemonCommandLine(argv)) return { pid, how: "process scan" };
  }
  return undefined;
}
