// What `aod trace` prints: the live table of events and the summary at the
// end (counts, latency percentiles per command, error counts). A module of
// src/cli/trace.ts, not a command.
import { type ClockOffset, type DecodedEvent, type EventBatch, type EventLine, eventLineJson } from "../format/event";
import type { ShareResolver } from "../host/shares";
import { kindById, TOOLS, toEventLine } from "../tools/registry";

/** The summary's key of a command of an event kind (SMB2 commands keep their ids: kind 0). */
export const statsKey = (tool: number, command: number): number => tool * 65536 + command;
const statsName = (key: number) => (kindById(Math.floor(key / 65536)) ?? kindById(0)!).commands.name(key % 65536);

/** Latencies per command for the summary: exact up to a cap, then a uniform sample. */
export class LatencyStats {
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

/** The live table's header line. */
export const TABLE_HEADER = `${pad("TIME", 12)} ${pad("COMM", 16)} ${pad("PID", 7)} ${pad("COMMAND", 20)} ${pad("LAT(ms)/ERROR", 30)} ${pad("SESSION", 18)} ${pad("TREE", 10)} ${pad("MID", 8)} SHARE`;

/** One event as a row of the live table; `what` is its latency or error. */
export function tableRow(e: DecodedEvent, line: EventLine, command: string, what: string): string {
  // NFS has no session or tree: its RPC client and xid stand in their columns.
  const session = line.session_id ?? (line.client_id !== undefined ? `client ${line.client_id}` : "");
  const mid = line.mid ?? line.xid ?? "";
  const where =
    line.share ??
    (Array.isArray(line.share_candidates)
      ? `${line.server ?? "?"} (${line.share_candidates.length} mounts)`
      : (line.server ?? ""));
  return `${pad(hhmmss(e.timeNs), 12)} ${pad(e.comm, 16)} ${pad(e.pid, 7)} ${pad(command, 20)} ${pad(what, 30)} ${pad(String(session), 18)} ${pad(line.tree_id ?? "", 10)} ${pad(String(mid), 8)} ${where}`;
}

export interface TraceTotals {
  events: number;
  stats: LatencyStats;
  /** "command errno status" -> count */
  errorCounts: Map<string, number>;
  /** Records the ring buffer had no room for, per tool. */
  lost: Record<string, bigint>;
}

/** The summary printed when the trace stops, line by line. */
export function summaryLines({ events, stats, errorCounts, lost }: TraceTotals): string[] {
  const lostTotal = Object.values(lost).reduce((a, b) => a + b, 0n);
  const latencyEvents = [...stats.counts.values()].reduce((a, b) => a + b, 0);
  const lostWhy = lostTotal
    ? ` (${Object.entries(lost)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}: the ring buffer was full)`
    : "";
  const out = [
    `\n${events} events (${latencyEvents} latency, ${events - latencyEvents} errors), ${lostTotal} lost${lostWhy}`,
  ];
  if (stats.counts.size) {
    out.push(
      `${pad("COMMAND", 22)} ${"COUNT".padStart(8)} ${"P50(ms)".padStart(10)} ${"P99(ms)".padStart(10)} ${"MAX(ms)".padStart(10)}`,
    );
    for (const [cmd, n] of [...stats.counts].sort((a, b) => a[0] - b[0]))
      out.push(
        `${pad(statsName(cmd), 22)} ${String(n).padStart(8)} ${stats.percentile(cmd, 50).toFixed(3).padStart(10)} ${stats.percentile(cmd, 99).toFixed(3).padStart(10)} ${stats.max.get(cmd)!.toFixed(3).padStart(10)}`,
      );
  }
  for (const [k, n] of errorCounts) out.push(`${pad(k, 60)} ${String(n).padStart(8)}`);
  return out;
}

/**
 * Turns batches into the output: table rows or JSON lines, the recording's
 * lines, and the totals for the summary.
 */
export class TracePrinter {
  readonly stats = new LatencyStats();
  readonly errorCounts = new Map<string, number>();
  events = 0;
  constructor(
    private readonly json: boolean,
    private readonly shares: ShareResolver,
    private readonly clock: ClockOffset,
  ) {}
  /** The batch as output text and as recording text (both newline-terminated). */
  print(b: EventBatch, recording: boolean): { out: string; rec: string } {
    let out = "";
    let rec = "";
    for (let i = 0; i < b.count; i++) {
      const e = b.decode(i, this.clock);
      const smb = TOOLS.find((t) => t.kind.id === e.tool)?.protocol === "smb"; // NFS lines name their own mount
      const line = toEventLine(e, smb ? this.shares.resolve(e.sessionId, e.treeId) : undefined);
      const j = eventLineJson(line);
      this.events++;
      const kind = kindById(e.tool) ?? kindById(0)!;
      if (kind.summaryKey) {
        const k = kind.summaryKey(line);
        this.errorCounts.set(k, (this.errorCounts.get(k) ?? 0) + 1);
      } else this.stats.add(statsKey(e.tool, e.command), line.latency_ms!);
      if (recording) rec += `${j}\n`;
      out += this.json ? `${j}\n` : `${tableRow(e, line, kind.commands.name(e.command), kind.traceColumn(line))}\n`;
    }
    return { out, rec };
  }
  summary(lost: Record<string, bigint>): string[] {
    return summaryLines({ events: this.events, stats: this.stats, errorCounts: this.errorCounts, lost });
  }
}
