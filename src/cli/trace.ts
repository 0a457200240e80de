// `aod trace`: print slow and failed SMB commands live, as the daemon sees them.

import { closeSync, openSync, writeSync } from "node:fs";
import { defineCommand } from "citty";
import { didYouMean } from "../config/problems";
import { toolFilters } from "../detect/types";
import { type EventBatch, eventLineJson } from "../format/event";
import { SMB2_COMMAND_COUNT, SMB2_COMMANDS, smb2CommandId } from "../format/smb2-commands";
import { cifsLoaded } from "../host/modules";
import { smb1Warnings } from "../host/mounts";
import { ShareResolver } from "../host/shares";
import { log } from "../log";
import { loadConfig } from "../registry";
import { type CommandHistogram, diffHistograms, formatHistograms } from "../tools/hist";
import { kindById, toEventLine } from "../tools/registry";
import type { SmberrFilter } from "../tools/smberr";
import type { SmbslowerFilter } from "../tools/smbslower";
import { ToolSource } from "../tools/tool-source";
import { AodError, UsageError } from "../util/errors";
import { configArg, examples, jsonArg, parseNumberArg } from "./_shared";
import { LatencyStats, summaryLines, TABLE_HEADER, tableRow } from "./trace-view";

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

export default defineCommand({
  meta: {
    name: "trace",
    description:
      "Print slow and failed SMB commands as they happen: time, process, command, latency or error, session, tree, mid, share. " +
      "Thresholds and tracked errnos come from the config unless overridden. Needs root. Ctrl-C prints a summary." +
      examples(
        "aod trace                               # slow commands, thresholds from the config",
        "aod trace --min-ms 0 --hist             # every command, histograms at the end",
        "aod trace --command SMB2_WRITE,SMB2_READ --min-ms 10",
        "aod trace --errors-only --json",
        "aod trace --pid 1234 --duration 60 --record /tmp/trace.jsonl",
      ),
  },
  args: {
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
  },
  async run({ args }) {
    const minMs = parseNumberArg("--min-ms", args["min-ms"], { min: 0 });
    const commands = parseCommands(args.command);
    const pid = parseNumberArg("--pid", args.pid, { min: 1, int: true });
    const duration = parseNumberArg("--duration", args.duration, { min: 0 });
    const interval = parseNumberArg("--interval", args.interval, { min: 1 });
    if (interval !== undefined && !args.hist) throw new UsageError("--interval needs --hist");
    if (args["errors-only"] && minMs !== undefined)
      throw new UsageError("--errors-only reports no latency events; drop --min-ms");
    const config = loadConfig(args.config);
    for (const w of config.warnings) log.warn(`config: ${w}`);
    if (process.geteuid?.() !== 0) throw new AodError("aod trace needs root (it loads BPF programs); run it with sudo");

    const json = !!args.json;
    const out = (s: string) => process.stdout.write(`${s}\n`);
    const info = json ? (s: string) => process.stderr.write(`${s}\n`) : out; // summary and histograms
    for (const w of smb1Warnings()) log.warn(w);
    if (!cifsLoaded()) {
      if (!args.wait) throw new AodError("the cifs module is not loaded (no SMB mounts?); not waiting (--no-wait)");
      log.info("the cifs module is not loaded: waiting for it (it loads with the first SMB mount)");
    }

    const errorsOn = args.errors || args["errors-only"];
    const filters = toolFilters(config);
    const errnos = (filters.smbiosnoop as SmberrFilter | undefined)?.errnos ?? [];
    if (errorsOn && !errnos.length) log.warn("the config tracks no errno: no error events");
    const latencyOverride: SmbslowerFilter | undefined =
      minMs !== undefined ? { thresholdsMs: new Array(SMB2_COMMAND_COUNT).fill(minMs) } : undefined;
    const source = new ToolSource("smb", filters, {
      tools: args["errors-only"] ? ["smbiosnoop"] : errorsOn ? ["smbslower", "smbiosnoop"] : ["smbslower"],
      filters: latencyOverride && { smbslower: latencyOverride },
      commands,
      pid,
    });

    const record = args.record ? openSync(args.record, "w", 0o600) : undefined;
    const shares = new ShareResolver();
    const stats = new LatencyStats();
    const errorCounts = new Map<string, number>();
    let events = 0;
    if (!json) out(TABLE_HEADER);
    const onBatch = (b: EventBatch) => {
      let chunk = "";
      let rec = "";
      for (let i = 0; i < b.count; i++) {
        const e = b.decode(i, source.clock);
        const line = toEventLine(e, shares.resolve(e.sessionId, e.treeId));
        const j = eventLineJson(line);
        events++;
        const isError = kindById(e.tool)?.isError;
        if (isError) {
          const k = `${line.command} ${line.errno} ${line.status}`;
          errorCounts.set(k, (errorCounts.get(k) ?? 0) + 1);
        } else stats.add(e.command, line.latency_ms!);
        if (record !== undefined) rec += `${j}\n`;
        if (json) chunk += `${j}\n`;
        else {
          const what = (kindById(e.tool) ?? kindById(0)!).traceColumn(line);
          chunk += `${tableRow(e, line, what)}\n`;
        }
      }
      if (chunk) process.stdout.write(chunk);
      if (rec && record !== undefined) writeSync(record, rec);
    };

    let lastHist: CommandHistogram[] = [];
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const onSignal = () => stop();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const timers: ReturnType<typeof setTimeout>[] = [];
    await source.start(onBatch);
    if (source.failure) {
      await source.close();
      if (record !== undefined) closeSync(record);
      throw new AodError(`cifs is loaded but cannot be traced: ${source.failure}`);
    }
    try {
      log.info(`aod trace: ${source.status()}`);
      if (duration !== undefined) timers.push(setTimeout(stop, duration * 1000));
      if (interval !== undefined)
        timers.push(
          setInterval(() => {
            const now = source.histograms();
            const d = diffHistograms(now, lastHist);
            lastHist = now;
            info(`--- last ${interval}s ---\n${d.length ? formatHistograms(d) : "(no SMB commands)"}`);
          }, interval * 1000),
        );
      await stopped;
    } finally {
      for (const t of timers) clearTimeout(t);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      const hist = args.hist ? source.histograms() : [];
      const lost = source.lost();
      await source.close(); // delivers what is still queued
      if (record !== undefined) closeSync(record);
      if (args.hist)
        info(
          hist.length
            ? `\nLatency histograms (every completed command):\n${formatHistograms(hist)}`
            : "\nLatency histograms: no SMB commands completed",
        );
      for (const l of summaryLines({ events, stats, errorCounts, lost })) info(l);
    }
  },
});
