// `aod trace`: print slow and failed SMB commands live, as the daemon sees them.

import { closeSync, openSync, writeSync } from "node:fs";
import { type ArgsDef, defineCommand, type ParsedArgs } from "citty";
import { didYouMean } from "../config/problems";
import { toolFilters } from "../detect/types";
import type { EventBatch } from "../format/event";
import { SMB2_COMMAND_COUNT, SMB2_COMMANDS, smb2CommandId } from "../format/smb2-commands";
import { cifsLoaded } from "../host/modules";
import { smb1Warnings } from "../host/mounts";
import { ShareResolver } from "../host/shares";
import { log } from "../log";
import { loadConfig } from "../registry";
import { type CommandHistogram, diffHistograms, formatHistograms } from "../tools/hist";
import { CONN_KINDS, type SmbconnFilter } from "../tools/smbconn";
import type { SmberrFilter } from "../tools/smberr";
import type { SmbslowerFilter } from "../tools/smbslower";
import { ToolSource } from "../tools/tool-source";
import { AodError, UsageError } from "../util/errors";
import { configArg, examples, jsonArg, parseNumberArg } from "./_shared";
import { TABLE_HEADER, TracePrinter } from "./trace-view";

export function parseCommands(v: string | undefined): number[] | undefined {
  if (!v) return undefined;
  return v.split(",").map((raw) => {
    const s = raw.trim().toUpperCase();
    const id = smb2CommandId(s) ?? smb2CommandId(`SMB2_${s}`);
    if (id === undefined)
      throw new UsageError(
        `--command: unknown SMB2 command ${JSON.stringify(raw.trim())}${didYouMean(raw.trim(), SMB2_COMMANDS)} (allowed: ${SMB2_COMMANDS.join(", ")})`,
      );
    return id;
  });
}

const traceArgs = {
  "min-ms": {
    type: "string",
    description: "Report commands at least this slow (ms; 0 = every command). Default: the config's thresholds",
    valueHint: "N",
  },
  command: {
    type: "string",
    description: "Only these SMB2 commands (comma-separated, e.g. SMB2_WRITE,SMB2_READ)",
    valueHint: "LIST",
  },
  errors: {
    type: "boolean",
    description: "Also report failed commands (errnos tracked by the config)",
    default: false,
  },
  "errors-only": { type: "boolean", description: "Report only failed commands", default: false },
  connection: {
    type: "boolean",
    description:
      "Also report connection events: reconnects, failed connects, expired sessions, credit timeouts, failed tree connects (shown by default when the config has a Connection anomaly)",
    default: false,
  },
  pid: { type: "string", description: "Only commands issued by this process id", valueHint: "PID" },
  duration: { type: "string", description: "Stop after this many seconds", valueHint: "S" },
  record: {
    type: "string",
    description: "Also write every event as a JSON line to this file",
    valueHint: "FILE.jsonl",
  },
  hist: {
    type: "boolean",
    description: "Print per-command latency histograms at the end (every command, slow or not)",
    default: false,
  },
  interval: {
    type: "string",
    description: "With --hist: print the histograms of the last N seconds every N seconds",
    valueHint: "N",
  },
  wait: {
    type: "boolean",
    description: "Wait for the cifs module when it is not loaded (--no-wait: exit 1 instead)",
    default: true,
  },
  ...jsonArg,
  ...configArg,
} satisfies ArgsDef;

export default defineCommand({
  meta: {
    name: "trace",
    description:
      "Print slow and failed SMB commands, and connection events, as they happen: time, process, command, latency or error, session, tree, mid, share. " +
      "Thresholds and tracked errnos come from the config unless overridden. Needs root. Ctrl-C prints a summary." +
      examples(
        "aod trace                               # slow commands, thresholds from the config",
        "aod trace --min-ms 0 --hist             # every command, histograms at the end",
        "aod trace --command SMB2_WRITE,SMB2_READ --min-ms 10",
        "aod trace --errors-only --json",
        "aod trace --connection                  # also reconnects, failed connects, expired sessions",
        "aod trace --pid 1234 --duration 60 --record /tmp/trace.jsonl",
      ),
  },
  args: traceArgs,
  async run({ args }) {
    const opts = traceOptions(args);
    const config = loadConfig(args.config);
    for (const w of config.warnings) log.warn(`config: ${w}`);
    if (process.geteuid?.() !== 0) throw new AodError("aod trace needs root (it loads BPF programs); run it with sudo");
    for (const w of smb1Warnings()) log.warn(w);
    if (!cifsLoaded()) {
      if (!args.wait) throw new AodError("the cifs module is not loaded (no SMB mounts?); not waiting (--no-wait)");
      log.info("the cifs module is not loaded: waiting for it (it loads with the first SMB mount)");
    }
    await trace(traceSource(opts, toolFilters(config)), opts);
  },
});

interface TraceOptions {
  minMs?: number;
  commands?: number[];
  pid?: number;
  duration?: number;
  interval?: number;
  errors: boolean;
  errorsOnly: boolean;
  connection: boolean;
  hist: boolean;
  json: boolean;
  record?: string;
}

/** The command line, checked: every problem is a usage error before anything loads. */
function traceOptions(args: ParsedArgs<typeof traceArgs>): TraceOptions {
  const opts: TraceOptions = {
    minMs: parseNumberArg("--min-ms", args["min-ms"], { min: 0 }),
    commands: parseCommands(args.command),
    pid: parseNumberArg("--pid", args.pid, { min: 1, int: true }),
    duration: parseNumberArg("--duration", args.duration, { min: 0 }),
    interval: parseNumberArg("--interval", args.interval, { min: 1 }),
    errorsOnly: !!args["errors-only"],
    errors: !!args.errors || !!args["errors-only"],
    connection: !!args.connection,
    hist: !!args.hist,
    json: !!args.json,
    record: args.record,
  };
  if (opts.interval !== undefined && !opts.hist) throw new UsageError("--interval needs --hist");
  if (opts.errorsOnly && opts.minMs !== undefined)
    throw new UsageError("--errors-only reports no latency events; drop --min-ms");
  return opts;
}

/** The tools the options ask for, with the config's filters and the options' overrides. */
function traceSource(opts: TraceOptions, filters: Record<string, unknown>): ToolSource {
  const errnos = (filters.smbiosnoop as SmberrFilter | undefined)?.errnos ?? [];
  if (opts.errors && !errnos.length) log.warn("the config tracks no errno: no error events");
  const overrides: Record<string, unknown> = {};
  if (opts.minMs !== undefined)
    overrides.smbslower = { thresholdsMs: new Array(SMB2_COMMAND_COUNT).fill(opts.minMs) } satisfies SmbslowerFilter;
  const tools = opts.errorsOnly ? ["smbiosnoop"] : opts.errors ? ["smbslower", "smbiosnoop"] : ["smbslower"];
  // Connection events: asked for, or tracked by the config (then shown unless only errors are).
  const tracked = (filters.smbconn as SmbconnFilter | undefined)?.kinds.length;
  if (opts.connection || (tracked && !opts.errorsOnly)) tools.push("smbconn");
  if (opts.connection && !tracked) overrides.smbconn = { kinds: CONN_KINDS.map((_, i) => i) } satisfies SmbconnFilter;
  return new ToolSource("smb", filters, {
    tools,
    filters: overrides,
    commands: opts.commands,
    pid: opts.pid,
  });
}

/** Prints events until Ctrl-C, SIGTERM or --duration; then histograms and the summary. */
async function trace(source: ToolSource, opts: TraceOptions): Promise<void> {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const info = opts.json ? (s: string) => process.stderr.write(`${s}\n`) : out; // summary and histograms
  const record = opts.record ? openSync(opts.record, "w", 0o600) : undefined;
  const printer = new TracePrinter(opts.json, new ShareResolver(), source.clock);
  if (!opts.json) out(TABLE_HEADER);
  const onBatch = (b: EventBatch) => {
    const { out: text, rec } = printer.print(b, record !== undefined);
    if (text) process.stdout.write(text);
    if (rec && record !== undefined) writeSync(record, rec);
  };

  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const timers: ReturnType<typeof setTimeout>[] = [];
  await source.start(onBatch);
  if (source.failure) {
    await source.close();
    if (record !== undefined) closeSync(record);
    throw new AodError(`cifs is loaded but cannot be traced: ${source.failure}`);
  }
  try {
    log.info(`aod trace: ${source.status()}`);
    if (opts.duration !== undefined) timers.push(setTimeout(stop, opts.duration * 1000));
    if (opts.interval !== undefined) timers.push(histogramTicker(source, opts.interval, info));
    await stopped;
  } finally {
    for (const t of timers) clearTimeout(t);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    const hist = opts.hist ? source.histograms() : [];
    const lost = source.lost();
    await source.close(); // delivers what is still queued
    if (record !== undefined) closeSync(record);
    if (opts.hist)
      info(
        hist.length
          ? `\nLatency histograms (every completed command):\n${formatHistograms(hist)}`
          : "\nLatency histograms: no SMB commands completed",
      );
    for (const l of printer.summary(lost)) info(l);
  }
}

/** --interval: the histograms of the last N seconds, every N seconds. */
function histogramTicker(source: ToolSource, intervalSec: number, info: (s: string) => void) {
  let last: CommandHistogram[] = [];
  return setInterval(() => {
    const now = source.histograms();
    const d = diffHistograms(now, last);
    last = now;
    info(`--- last ${intervalSec}s ---\n${d.length ? formatHistograms(d) : "(no SMB commands)"}`);
  }, intervalSec * 1000);
}
