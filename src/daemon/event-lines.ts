// Reading the event line format (one JSON object per line, as `aod trace
// --json/--record` writes it) back into batches. Integers are read exactly:
// time_ns and mid exceed 2^53.
import { errnoNumber } from "../format/errno-names";
import { smb2CommandId } from "../format/smb2-commands";
import { EventBatch, type EventLine, TOOL_SMBERR, TOOL_SMBSLOWER } from "../format/event";
import { errorMessage } from "../util/errors";

export interface ParsedLines {
  lines: EventLine[];
  /** Times as numbers (ns, wall clock) for the detectors. */
  times: number[];
  errors: { line: number; message: string }[];
}

const BIG_INT_FIELDS = /"(time_ns|mid)"\s*:\s*(-?\d{16,})/g;

export function parseEventLine(text: string): EventLine {
  let o: any;
  try {
    o = JSON.parse(text.replace(BIG_INT_FIELDS, '"$1":"$2"'));
  } catch (e) {
    throw new Error(`not JSON (${errorMessage(e)})`);
  }
  if (!o || typeof o !== "object" || Array.isArray(o)) throw new Error("expected a JSON object");
  if (typeof o.command !== "string" || smb2CommandId(o.command) === undefined)
    throw new Error(`"command" must be an SMB2 command name such as SMB2_READ, found ${JSON.stringify(o.command)}`);
  const hasLatency = o.latency_ms !== undefined;
  const hasErrno = o.errno !== undefined;
  if (!hasLatency && !hasErrno) throw new Error(`needs "latency_ms" (a latency event) or "errno" (an error event)`);
  if (hasLatency && (typeof o.latency_ms !== "number" || !(o.latency_ms >= 0)))
    throw new Error(`"latency_ms" must be a number >= 0, found ${JSON.stringify(o.latency_ms)}`);
  if (hasErrno && errnoFromName(o.errno) === undefined)
    throw new Error(`"errno" must be an errno name such as EACCES (or E<number>), found ${JSON.stringify(o.errno)}`);
  const tool = o.tool ?? (hasErrno ? "smbiosnoop" : "smbslower");
  if (tool !== "smbslower" && tool !== "smbiosnoop" && tool !== "smberr")
    throw new Error(`"tool" must be smbslower or smbiosnoop, found ${JSON.stringify(tool)}`);
  if (tool === "smbslower" && !hasLatency) throw new Error(`a smbslower event needs "latency_ms"`);
  if (tool !== "smbslower" && !hasErrno) throw new Error(`a ${tool} event needs "errno"`);
  let time: bigint | undefined;
  if (o.time_ns !== undefined) {
    if (!/^\d+$/.test(String(o.time_ns)))
      throw new Error(`"time_ns" must be a non-negative integer, found ${JSON.stringify(o.time_ns)}`);
    time = BigInt(o.time_ns);
  }
  const line: EventLine = { ...o, tool: tool === "smberr" ? "smbiosnoop" : tool, time_ns: time ?? -1n };
  if (o.mid !== undefined && /^\d+$/.test(String(o.mid))) line.mid = BigInt(o.mid);
  return line;
}

export function errnoFromName(name: unknown): number | undefined {
  if (typeof name !== "string") return undefined;
  const m = /^E(\d+)$/.exec(name);
  return m ? Number(m[1]) : errnoNumber(name);
}

/** Parses a whole recording; lines without time_ns follow the previous 1 ms later. */
export function parseEventLines(text: string, startNs: bigint): ParsedLines {
  const out: ParsedLines = { lines: [], times: [], errors: [] };
  let prev = startNs - 1_000_000n;
  text.split("\n").forEach((raw, idx) => {
    const t = raw.trim();
    if (!t) return;
    try {
      const l = parseEventLine(t);
      if ((l.time_ns as bigint) < 0n) l.time_ns = prev + 1_000_000n;
      prev = l.time_ns as bigint;
      out.lines.push(l);
      out.times.push(Number(l.time_ns));
    } catch (e) {
      out.errors.push({ line: idx + 1, message: errorMessage(e) });
    }
  });
  return out;
}

/** Fills batches of up to `size` events from parsed lines (columns only). */
export function* batchesOf(p: ParsedLines, size = 4096): Generator<{ batch: EventBatch; offset: number }> {
  const b = new EventBatch(size);
  for (let off = 0; off < p.lines.length; off += size) {
    b.count = 0;
    for (let i = off; i < Math.min(off + size, p.lines.length); i++) {
      const l = p.lines[i]!;
      const k = b.count++;
      b.timeNs[k] = p.times[i]!;
      const isErr = l.tool !== "smbslower";
      b.tool[k] = isErr ? TOOL_SMBERR : TOOL_SMBSLOWER;
      b.latencyNs[k] = (l.latency_ms ?? 0) * 1e6;
      b.command[k] = smb2CommandId(l.command)!;
      b.rc[k] = isErr ? -errnoFromName(l.errno)! : 0;
    }
    yield { batch: b, offset: off };
  }
}
