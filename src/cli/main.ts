// The `aod` command tree. Subcommands load lazily so `aod --version` stays fast;
// a command is listed here only once it works.
import { defineCommand, runCommand, showUsage, type CommandDef } from "citty";
import { VERSION } from "../version";
import { AodError } from "./errors";

export const main = defineCommand({
  meta: {
    name: "aod",
    version: VERSION,
    description: "Always-on diagnostics for SMB/CIFS clients: captures evidence seconds after SMB commands turn slow or fail",
  },
  // `aod` alone means `aod run`.
  default: "run",
  subCommands: {
    run: () => import("./run").then((m) => m.default),
    snapshot: () => import("./snapshot").then((m) => m.default),
    bundles: () => import("./bundles").then((m) => m.default),
    replay: () => import("./replay").then((m) => m.default),
    check: () => import("./check").then((m) => m.default),
    config: () => import("./config").then((m) => m.default),
    monitor: () => import("./monitor").then((m) => m.default),
    disk: () => import("./disk").then((m) => m.default),
    compare: () => import("./compare").then((m) => m.default),
  },
});

async function resolveTarget(argv: string[]): Promise<[CommandDef<any>, CommandDef<any>?]> {
  let cmd: CommandDef<any> = main;
  let parent: CommandDef<any> | undefined;
  for (const a of argv) {
    if (a.startsWith("-")) continue;
    const subs = typeof cmd.subCommands === "function" ? await cmd.subCommands() : cmd.subCommands;
    const next = subs?.[a];
    if (!next) break;
    parent = cmd;
    cmd = await (typeof next === "function" ? next() : next);
  }
  return [cmd, parent];
}

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    console.log(VERSION);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    await showUsage(...(await resolveTarget(argv)));
    return 0;
  }
  try {
    await runCommand(main, { rawArgs: argv });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e: any) {
    if (e instanceof AodError || typeof e?.exitCode === "number") {
      console.error(`aod: ${e.message}`);
      return e.exitCode;
    }
    if (e?.name === "CLIError") {
      await showUsage(...(await resolveTarget(argv)));
      console.error(`aod: ${e.message}`);
      return 2;
    }
    console.error("aod: unexpected error:", e);
    return 1;
  }
}
