// `aod trace`: print slow and failed SMB commands live, as the daemon sees them.

import { closeSync, openSync, writeSync } from "node:fs";
import { defineCommand } from "citty";
import { loadConfig } from "../config/load";
import { didYouMean } from "../config/problems";
import { SMB2_COMMAND_COUNT, SMB2_COMMANDS, smb2CommandId, smb2CommandName } from "../format/smb2-commands";
import { log } from "../log";
import { cifsLoaded } from "../tools/attach-plan";
import { type EventBatch, eventLineJson, TOOL_SMBERR, toEventLine } from "../format/event";
import { type CommandHistogram, diffHistograms, formatHistograms } from "../tools/hist";
import { smb1Warnings } from "../host/mounts";
import { configErrnos } from "../tools/registry";
import { ShareResolver } from "../host/shares";
import { SmbSource } from "../tools/smb-source";
import { configArg, examples, jsonArg } from "./_shared";
import { AodError, UsageError } from "./errors";

function num(name: string, v: string | undefined, opts: { min?: number; int?: boolean } = {}): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min))
    throw new UsageError(
      `--${name} expects ${opts.int ? "a whole number" : "a number"}${opts.min !== undefined ? ` ≥ ${opts.min}` : ""}, got ${JSON.stringify(v)}`,
    );
  return n;
}

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

/** Latencies per command for the summary: exact up to a cap, then a uniform sample. */
class LatencyStats {
  private readonly cap = 100_000;
  private readonly samples = new Map<number, number[]>();
  readonly counts = new Map<number, number>();
  readonly max = new Map<number, number>();
  add(cmd: number, ms: number): void {
    const n = (this.counts.get(cmd) ?? 0) + 1;
    this.counts.set(cmd, n);
    if (ms > (this.max.get(cmd) ?? -1)) this.max.set(cmd, ms);
    let s = this.samples.get(cmd);
    if (!s) {
      s = [];
      this.samples.set(cmd, s);
    }
    if (s.length < this.cap) s.push(ms);
    else {
      const j = Math.floor(Math.random() * n);
      if (j < this.cap) s[j] = ms;
    }
  }
  percentile(cmd: number, p: number): number {
    const s = [...(this.samples.get(cmd) ?? [])].sort((a, b) => a - b);
    return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : 0;
  }
}

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const hhmmss = (ns: bigint) => {
  const d = new Date(Number(ns / 1_000_000n));
  return `${d.toTimeString().slice(0, 8)}.${String(d.getMilliseconds()).padStart(3, "0")}`;
};

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
    const minMs = num("min-ms", args["min-ms"], { min: 0 });
    const commands = parseCommands(args.command);
    const pid = num("pid", args.pid, { min: 1, int: true });
    const duration = num("duration", args.duration, { min: 0 });
    const interval = num("interval", args.interval, { min: 1 });
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
    const errnos = configErrnos(config);
    if (errorsOn && !errnos.length) log.warn("the config tracks no errno: no error events");
    const source = new SmbSource({
      config,
      tools: args["errors-only"] ? ["smbiosnoop"] : errorsOn ? ["smbslower", "smbiosnoop"] : ["smbslower"],
      thresholdsMs: minMs !== undefined ? new Array(SMB2_COMMAND_COUNT).fill(minMs) : undefined,
      commands,
      pid,
    });

    const record = args.record ? openSync(args.record, "w", 0o600) : undefined;
    const shares = new ShareResolver();
    const stats = new LatencyStats();
    const errorCounts = new Map<string, number>();
    let events = 0;
    if (!json)
      out(
        `${pad("TIME", 12)} ${pad("COMM", 16)} ${pad("PID", 7)} ${pad("COMMAND", 20)} ${pad("LAT(ms)/ERROR", 30)} ${pad("SESSION", 18)} ${pad("TREE", 10)} ${pad("MID", 8)} SHARE`,
      );
    const onBatch = (b: EventBatch) => {
      let chunk = "";
      let rec = "";
      for (let i = 0; i < b.count; i++) {
        const e = b.decode(i, source.clock);
        const line = toEventLine(e, shares.resolve(e.sessionId, e.treeId));
        const j = eventLineJson(line);
        events++;
        if (e.tool === TOOL_SMBERR) {
          const k = `${line.command} ${line.errno} ${line.status}`;
          errorCounts.set(k, (errorCounts.get(k) ?? 0) + 1);
        } else stats.add(e.command, line.latency_ms!);
        if (record !== undefined) rec += `${j}\n`;
        if (json) chunk += `${j}\n`;
        else {
          const what = e.tool === TOOL_SMBERR ? `${line.errno} ${line.status}` : line.latency_ms!.toFixed(3);
          chunk += `${pad(hhmmss(e.timeNs), 12)} ${pad(e.comm, 16)} ${pad(e.pid, 7)} ${pad(line.command, 20)} ${pad(what, 30)} ${pad(line.session_id!, 18)} ${pad(line.tree_id!, 10)} ${pad(String(line.mid), 8)} ${line.share ?? ""}\n`;
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
      const lostTotal = Object.values(lost).reduce((a, b) => a + b, 0n);
      const latencyEvents = [...stats.counts.values()].reduce((a, b) => a + b, 0);
      info(
        `\n${events} events (${latencyEvents} latency, ${events - latencyEvents} errors), ${lostTotal} lost${
          lostTotal
            ? ` (${Object.entries(lost)
                .map(([k, v]) => `${k} ${v}`)
                .join(", ")}: the ring buffer was full)`
            : ""
        }`,
      );
      if (stats.counts.size) {
        info(
          `${pad("COMMAND", 22)} ${"COUNT".padStart(8)} ${"P50(ms)".padStart(10)} ${"P99(ms)".padStart(10)} ${"MAX(ms)".padStart(10)}`,
        );
        for (const [cmd, n] of [...stats.counts].sort((a, b) => a[0] - b[0]))
          info(
            `${pad(smb2CommandName(cmd), 22)} ${String(n).padStart(8)} ${stats.percentile(cmd, 50).toFixed(3).padStart(10)} ${stats.percentile(cmd, 99).toFixed(3).padStart(10)} ${stats.max.get(cmd)!.toFixed(3).padStart(10)}`,
          );
      }
      for (const [k, n] of errorCounts) info(`${pad(k, 60)} ${String(n).padStart(8)}`);
    }
  },
});
