// `aod trace`: print slow and failed SMB commands and NFS RPCs live, as the
// daemon sees them.

import { closeSync, openSync, writeSync } from "node:fs";
import { type ArgsDef, defineCommand, type ParsedArgs } from "citty";
import { didYouMean } from "../config/problems";
import { toolFilters } from "../detect/types";
import type { EventBatch } from "../format/event";
import { NFS_ERROR_OP_TABLE, NFS_PROCEDURE_TABLE } from "../format/nfs-procedures";
import { SMB2_COMMAND_COUNT, SMB2_COMMANDS, smb2CommandId } from "../format/smb2-commands";
import { smb1Warnings } from "../host/mounts";
import { ShareResolver } from "../host/shares";
import { log } from "../log";
import { loadConfig } from "../registry";
import { type CommandHistogram, diffHistograms, formatHistograms } from "../tools/hist";
import { MultiSource } from "../tools/multi-source";
import { PROTOCOLS } from "../tools/registry";
import { CONN_KINDS, type SmbconnFilter } from "../tools/smbconn";
import type { SmberrFilter } from "../tools/smberr";
import type { SmbslowerFilter } from "../tools/smbslower";
import { ToolSource } from "../tools/tool-source";
import { AodError, UsageError } from "../util/errors";
import { configArg, examples, jsonArg, parseNumberArg } from "./_shared";
import { TABLE_HEADER, TracePrinter } from "./trace-view";

const PROTOS = ["smb", "nfs"] as const;
type Proto = (typeof PROTOS)[number];

/** An SMB2 command name (with or without SMB2_), as an id; undefined when it is not one. */
const smbCommand = (s: string) => smb2CommandId(s) ?? smb2CommandId(`SMB2_${s}`);
/** The ids an NFS name selects in nfsslower's and nfserr's tables (WRITE, v3:WRITE, v4:OPEN). */
const nfsCommands = (s: string) => [...(NFS_PROCEDURE_TABLE.ids(s) ?? []), ...(NFS_ERROR_OP_TABLE.ids(s) ?? [])];

/**
 * --command per protocol: each name must be a command of at least one of
 * `protos`; a protocol none of the names belongs to gets an empty list (it
 * reports nothing). NFS ids are those of both NFS tables (their v3 part is shared).
 */
export function parseCommands(
  v: string | undefined,
  protos: readonly Proto[] = ["smb"],
): Partial<Record<Proto, number[]>> {
  if (!v) return {};
  const out: Partial<Record<Proto, number[]>> = Object.fromEntries(protos.map((p) => [p, []]));
  for (const raw of v.split(",")) {
    const s = raw
      .trim()
      .toUpperCase()
      .replace(/^V([34]):/, "v$1:");
    const smb = protos.includes("smb") ? smbCommand(s) : undefined;
    const nfs = protos.includes("nfs") ? nfsCommands(s) : [];
    if (smb === undefined && !nfs.length) {
      const names = [
        ...(protos.includes("smb") ? SMB2_COMMANDS : []),
        ...(protos.includes("nfs") ? (NFS_PROCEDURE_TABLE.suggestions ?? []) : []),
      ];
      throw new UsageError(
        `--command: unknown ${protos.map((p) => (p === "smb" ? "SMB2 command" : "NFS procedure")).join(" or ")} ${JSON.stringify(raw.trim())}${didYouMean(s, names)} (e.g. ${protos.includes("smb") ? "SMB2_WRITE" : ""}${protos.length > 1 ? ", " : ""}${protos.includes("nfs") ? "WRITE, v4:OPEN" : ""})`,
      );
    }
    if (smb !== undefined) out.smb!.push(smb);
    if (nfs.length) out.nfs!.push(...nfs);
  }
  return out;
}

const traceArgs = {
  "min-ms": {
    type: "string",
    description: "Report commands at least this slow (ms; 0 = every command). Default: the config's thresholds",
    valueHint: "N",
  },
  command: {
    type: "string",
    description:
      "Only these commands (comma-separated): SMB2 commands (SMB2_WRITE or WRITE) and NFS procedures (WRITE for every version, v3:WRITE, v4:OPEN; errors also v4 operations)",
    valueHint: "LIST",
  },
  proto: {
    type: "string",
    description: "Which protocol's events: smb, nfs or all (default: all, each as soon as its module is loaded)",
    valueHint: "smb|nfs|all",
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
    description: "Wait for the cifs (or nfs) module when none is loaded (--no-wait: exit 1 instead)",
    default: true,
  },
  ...jsonArg,
  ...configArg,
} satisfies ArgsDef;

export default defineCommand({
  meta: {
    name: "trace",
    description:
      "Print slow and failed SMB commands and NFS RPCs, and SMB connection events, as they happen: time, process, command (NFS: v3:WRITE, v4:OPEN, ...), latency or error, session, tree and mid (NFS: RPC client and xid), share (NFS: server:/export, or the server and how many mounts it could be). " +
      "Thresholds and tracked errnos come from the config unless overridden. Needs root. Ctrl-C prints a summary." +
      examples(
        "aod trace                               # slow commands, thresholds from the config",
        "aod trace --min-ms 0 --hist             # every command, histograms at the end",
        "aod trace --command SMB2_WRITE,SMB2_READ --min-ms 10",
        "aod trace --errors-only --json",
        "aod trace --connection                  # also reconnects, failed connects, expired sessions",
        "aod trace --proto nfs --min-ms 0 --hist # every NFS RPC, per-procedure histograms at the end",
        "aod trace --pid 1234 --duration 60 --record /tmp/trace.jsonl",
      ),
  },
  args: traceArgs,
  async run({ args }) {
    const opts = traceOptions(args);
    const config = loadConfig(args.config);
    for (const w of config.warnings) log.warn(`config: ${w}`);
    if (process.geteuid?.() !== 0) throw new AodError("aod trace needs root (it loads BPF programs); run it with sudo");
    if (opts.protos.includes("smb")) for (const w of smb1Warnings()) log.warn(w);
    const protocols = PROTOCOLS.filter((p) => opts.protos.includes(p.name as Proto));
    if (!protocols.some((p) => p.loaded())) {
      const mods = protocols.map((p) => p.module).join(" or ");
      if (!args.wait) throw new AodError(`no ${mods} module is loaded (no mounts?); not waiting (--no-wait)`);
      log.info(`no ${mods} module is loaded: waiting (one loads with the first mount)`);
    }
    await trace(traceSource(opts, toolFilters(config)), opts);
  },
});

interface TraceOptions {
  protos: Proto[];
  minMs?: number;
  commands: Partial<Record<Proto, number[]>>;
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
  const proto = (args.proto ?? "all").toLowerCase();
  if (proto !== "all" && !PROTOS.includes(proto as Proto))
    throw new UsageError(`--proto must be smb, nfs or all (got ${JSON.stringify(args.proto)})`);
  const protos = proto === "all" ? [...PROTOS] : [proto as Proto];
  const opts: TraceOptions = {
    protos,
    minMs: parseNumberArg("--min-ms", args["min-ms"], { min: 0 }),
    commands: parseCommands(args.command, protos),
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

/** The tools the options ask for, per protocol, with the config's filters and the options' overrides. */
function traceSource(opts: TraceOptions, filters: Record<string, unknown>): ToolSource | MultiSource {
  const smbErrnos = (filters.smbiosnoop as SmberrFilter | undefined)?.errnos ?? [];
  const nfsErrnos = (filters.nfserr as SmberrFilter | undefined)?.errnos ?? [];
  if (opts.errors && !smbErrnos.length && !nfsErrnos.length) log.warn("the config tracks no errno: no error events");
  const overrides: Record<string, unknown> = {};
  if (opts.minMs !== undefined) {
    overrides.smbslower = { thresholdsMs: new Array(SMB2_COMMAND_COUNT).fill(opts.minMs) } satisfies SmbslowerFilter;
    overrides.nfsslower = {
      thresholdsMs: new Array(NFS_PROCEDURE_TABLE.names.length).fill(opts.minMs),
    } satisfies SmbslowerFilter;
  }
  // NFS errors without an NFS rule: the errnos the SMB rules track.
  if (!nfsErrnos.length && smbErrnos.length) overrides.nfserr = { errnos: smbErrnos } satisfies SmberrFilter;
  const tools = opts.errorsOnly ? ["smbiosnoop"] : opts.errors ? ["smbslower", "smbiosnoop"] : ["smbslower"];
  const nfsTools = tools.map((t) => (t === "smbslower" ? "nfsslower" : "nfserr"));
  // Connection events: asked for, or tracked by the config (then shown unless only errors are).
  const tracked = (filters.smbconn as SmbconnFilter | undefined)?.kinds.length;
  if (opts.connection || (tracked && !opts.errorsOnly)) tools.push("smbconn");
  if (opts.connection && !tracked) overrides.smbconn = { kinds: CONN_KINDS.map((_, i) => i) } satisfies SmbconnFilter;
  const sources = opts.protos.map(
    (p) =>
      new ToolSource(p, filters, {
        tools: p === "smb" ? tools : nfsTools,
        filters: overrides,
        commands: opts.commands[p],
        pid: opts.pid,
      }),
  );
  return sources.length === 1 ? sources[0]! : new MultiSource(sources);
}

/** Prints events until Ctrl-C, SIGTERM or --duration; then histograms and the summary. */
async function trace(source: ToolSource | MultiSource, opts: TraceOptions): Promise<void> {
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
  const all = source instanceof MultiSource ? source.sources : [source];
  const failed = all.filter((s) => s.failure);
  // Fails only when no protocol can be traced (one failing beside a working one is logged by its source).
  if (failed.length && failed.length === all.filter((s) => s.protocol.loaded()).length) {
    await source.close();
    if (record !== undefined) closeSync(record);
    throw new AodError(
      failed.map((s) => `${s.protocol.module} is loaded but cannot be traced: ${s.failure}`).join("; "),
    );
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
          : "\nLatency histograms: no SMB command or NFS RPC completed",
      );
    for (const l of printer.summary(lost)) info(l);
  }
}

/** --interval: the histograms of the last N seconds, every N seconds. */
function histogramTicker(source: ToolSource | MultiSource, intervalSec: number, info: (s: string) => void) {
  let last: CommandHistogram[] = [];
  return setInterval(() => {
    const now = source.histograms();
    const d = diffHistograms(now, last);
    last = now;
    info(`--- last ${intervalSec}s ---\n${d.length ? formatHistograms(d) : "(no SMB commands or NFS RPCs)"}`);
  }, intervalSec * 1000);
}
