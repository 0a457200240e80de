// Reading the event line format (one JSON object per line, as `aod trace
// --json/--record` writes it) back into batches. Integers are read exactly:
// time_ns and mid exceed 2^53.
import { EventBatch, type EventLine } from "../format/event";
import { KINDS } from "../tools/registry";
import type { EventColumns, EventKind } from "../tools/spec";
import { errorMessage } from "../util/errors";

export interface ParsedLines {
  lines: EventLine[];
  /** Per line: its kind id and the detectors' columns. */
  columns: (EventColumns & { kind: number })[];
  /** Times as numbers (ns, wall clock) for the detectors. */
  times: number[];
  errors: { line: number; message: string }[];
}

const BIG_INT_FIELDS = /"(time_ns|mid)"\s*:\s*(-?\d{16,})/g;

/** A recorded line's kind: its "tool" (a name or alias), else the kind whose marker field it has. */
function kindOf(o: Record<string, unknown>): EventKind {
  if (o.tool === undefined) {
    const k = KINDS.find((x) => o[x.marker] !== undefined);
    if (!k) throw new Error(`needs ${KINDS.map((x) => `"${x.marker}" (a ${x.name} event)`).join(" or ")}`);
    return k;
  }
  const k = KINDS.find((x) => x.name === o.tool || x.aliases.includes(String(o.tool)));
  if (!k) throw new Error(`"tool" must be ${KINDS.map((x) => x.name).join(" or ")}, found ${JSON.stringify(o.tool)}`);
  return k;
}

/** One event line back into an EventLine with its columns (exact integers), or an error naming the field. */
export function parseEventLine(text: string): { line: EventLine; columns: EventColumns; kind: EventKind } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(BIG_INT_FIELDS, '"$1":"$2"'));
  } catch (e) {
    throw new Error(`not JSON (${errorMessage(e)})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("expected a JSON object");
  const o = parsed as Record<string, unknown>;
  const kind = kindOf(o);
  let time: bigint | undefined;
  if (o.time_ns !== undefined) {
    if (!/^\d+$/.test(String(o.time_ns)))
      throw new Error(`"time_ns" must be a non-negative integer, found ${JSON.stringify(o.time_ns)}`);
    time = BigInt(String(o.time_ns));
  }
  // Written under the kind's own name, whatever alias the recording used.
  const line = { ...o, tool: kind.name, time_ns: time ?? -1n } as EventLine;
  if (o.mid !== undefined && /^\d+$/.test(String(o.mid))) line.mid = BigInt(String(o.mid));
  const columns = kind.fromLine({ ...line, tool: typeof o.tool === "string" ? o.tool : kind.name });
  return { line, columns, kind };
}

/** Parses a whole recording; lines without time_ns follow the previous 1 ms later. */
export function parseEventLines(text: string, startNs: bigint): ParsedLines {
  const out: ParsedLines = { lines: [], columns: [], times: [], errors: [] };
  let prev = startNs - 1_000_000n;
  text.split("\n").forEach((raw, idx) => {
    const t = raw.trim();
    if (!t) return;
    try {
      const { line: l, columns, kind } = parseEventLine(t);
      if ((l.time_ns as bigint) < 0n) l.time_ns = prev + 1_000_000n;
      prev = l.time_ns as bigint;
      out.lines.push(l);
      out.columns.push({ ...columns, kind: kind.id });
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
    b.clear();
    for (let i = off; i < Math.min(off + size, p.lines.length); i++) {
      const k = b.count++;
      b.timeNs[k] = p.times[i]!;
      const c = p.columns[i]!;
      b.tool[k] = c.kind;
      b.latencyNs[k] = c.latencyNs;
      b.command[k] = c.command;
      b.rc[k] = c.rc;
      b.status[k] = c.status ?? 0;
    }
    yield { batch: b, offset: off };
  }
}
