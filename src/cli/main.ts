// The `aod` command tree. Subcommands load lazily so `aod --version` stays fast;
// a command is listed here only once it works.
import { type CommandDef, defineCommand, renderUsage, runCommand } from "citty";
import { AodError, errorCode, errorMessage } from "../util/errors";
import { VERSION } from "../version";

export const main = defineCommand({
  meta: {
    name: "aod",
    version: VERSION,
    description:
      "Always-on diagnostics for SMB/CIFS clients: captures evidence seconds after SMB commands turn slow or fail",
  },
  // `aod` alone means `aod run`.
  default: "run",
  subCommands: {
    run: () => import("./run").then((m) => m.default),
    snapshot: () => import("./snapshot").then((m) => m.default),
    bundles: () => import("./bundles").then((m) => m.default),
    replay: () => import("./replay").then((m) => m.default),
    check: () => import("./check").then((m) => m.default),
    install: () => import("./install").then((m) => m.default),
    uninstall: () => import("./uninstall").then((m) => m.default),
    config: () => import("./config").then((m) => m.default),
    trace: () => import("./trace").then((m) => m.default),
    monitor: () => import("./monitor").then((m) => m.default),
    disk: () => import("./disk").then((m) => m.default),
    compare: () => import("./compare").then((m) => m.default),
    upload: () => import("./upload").then((m) => m.default),
    // Hidden (a leading "_" keeps a command out of the lists): tests, benchmarks, packaging.
    _loadgen: () => import("./_loadgen").then((m) => m.default),
    _unit: () => import("./_unit").then((m) => m.default),
  },
});

async function resolveTarget(argv: string[]): Promise<[CommandDef, CommandDef?]> {
  let cmd: CommandDef = main;
  let parent: CommandDef | undefined;
  for (const a of argv) {
    if (a.startsWith("-")) continue;
    const subs = await (typeof cmd.subCommands === "function" ? cmd.subCommands() : cmd.subCommands);
    const next = subs?.[a];
    if (!next) break;
    parent = cmd;
    cmd = await (typeof next === "function" ? next() : next);
  }
  return [cmd, parent];
}

const EXAMPLES = "\n\nExamples:\n";
const splitDescription = (d = "") => {
  const i = d.indexOf(EXAMPLES);
  return i < 0 ? { text: d, examples: "" } : { text: d.slice(0, i), examples: d.slice(i + 2) };
};

/**
 * A copy of a command whose own and subcommands' descriptions lack the
 * examples, and without the hidden subcommands (names starting with "_").
 */
async function withoutExamples(cmd: CommandDef): Promise<CommandDef> {
  const meta = typeof cmd.meta === "function" ? await cmd.meta() : await cmd.meta;
  const subs = await (typeof cmd.subCommands === "function" ? cmd.subCommands() : cmd.subCommands);
  const strippedSubs = subs
    ? Object.fromEntries(
        await Promise.all(
          Object.entries(subs)
            .filter(([name]) => !name.startsWith("_"))
            .map(async ([name, sub]) => {
              const c = await (typeof sub === "function" ? sub() : sub);
              const m = typeof c.meta === "function" ? await c.meta() : await c.meta;
              // First sentence only in lists.
              const short = splitDescription(m?.description).text.split(/(?<=\.)\s/)[0]!;
              return [name, { ...c, meta: { ...m, description: short } }];
            }),
        ),
      )
    : undefined;
  return {
    ...cmd,
    meta: { ...meta, description: splitDescription(meta?.description).text },
    subCommands: strippedSubs,
  };
}

async function showHelp(argv: string[]): Promise<void> {
  const [cmd, parent] = await resolveTarget(argv);
  const meta = typeof cmd.meta === "function" ? await cmd.meta() : await cmd.meta;
  let text = await renderUsage(await withoutExamples(cmd), parent);
  const { examples } = splitDescription(meta?.description);
  if (examples) text += `\n\n${examples}`;
  // Colors only for a terminal.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI color sequences, which start with ESC
  if (!process.stdout.isTTY) text = text.replace(/\x1b\[[0-9;]*m/g, "");
  console.log(text);
}

const exitCodeOf = (e: unknown): number | undefined =>
  typeof e === "object" && e !== null && "exitCode" in e && typeof e.exitCode === "number" ? e.exitCode : undefined;

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    console.log(VERSION);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    await showHelp(argv);
    return 0;
  }
  try {
    await runCommand(main, { rawArgs: argv });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    // AodError, or anything else that carries an exit code.
    const exitCode = e instanceof AodError ? e.exitCode : exitCodeOf(e);
    if (exitCode !== undefined) {
      console.error(`aod: ${errorMessage(e)}`);
      return exitCode;
    }
    if (e instanceof Error && e.name === "CLIError") {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI color sequences, which start with ESC
      const msg = e.message.replace(/\x1b\[[0-9;]*m/g, "");
      const where =
        errorCode(e) === "E_UNKNOWN_COMMAND"
          ? "aod --help"
          : `aod ${argv
              .filter((a) => !a.startsWith("-"))
              .slice(0, 2)
              .join(" ")} --help`;
      console.error(`aod: ${msg} (see: ${where})`);
      return 2;
    }
    console.error("aod: unexpected error:", e);
    return 1;
  }
}
