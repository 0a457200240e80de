// Decoding of struct aod_event (bpf/aod_event.h). The offsets below are checked
// against the compiled object's BTF by test/tools/event-layout.test.ts.
import { jsonWithBigInts } from "./json";
import { smb2CommandName } from "./smb2-commands";

export const EVENT_SIZE = 72;
/**
 * A tool may follow its struct aod_event with up to this many bytes of its
 * own (strings, addresses) in the same ring record: rare events only, the
 * hot path never sees them (src/tools/ring-reader.ts).
 */
export const MAX_TAIL = 512;
export const OFF = {
  time_ns: 0,
  latency_ns: 8,
  session_id: 16,
  mid: 24,
  tree_id: 32,
  pid: 36,
  tid: 40,
  rc: 44,
  status: 48,
  command: 52,
  tool: 54,
  flags: 55,
  comm: 56,
} as const;

/**
 * A batch of events as the reader hands them to detectors: hot fields in
 * columns (no per-event objects), the raw records kept for full decoding of
 * the few events an anomaly reports.
 */
export class EventBatch {
  count = 0;
  readonly timeNs: Float64Array; // monotonic ns (exact below 2^53 ns ≈ 104 days of uptime; ±1 ns beyond)
  readonly latencyNs: Float64Array;
  readonly command: Uint16Array;
  readonly tool: Uint8Array;
  readonly rc: Int32Array;
  /** NT status (0: none). */
  readonly status: Uint32Array;
  readonly raw: Uint8Array;
  private readonly view: DataView;
  /** The tails of the records that have one, by index. */
  private readonly tails = new Map<number, Uint8Array>();

  constructor(readonly capacity: number) {
    this.timeNs = new Float64Array(capacity);
    this.latencyNs = new Float64Array(capacity);
    this.command = new Uint16Array(capacity);
    this.tool = new Uint8Array(capacity);
    this.rc = new Int32Array(capacity);
    this.status = new Uint32Array(capacity);
    this.raw = new Uint8Array(capacity * EVENT_SIZE);
    this.view = new DataView(this.raw.buffer);
  }

  /** Appends one record from `src` at byte offset `off`. */
  push(src: DataView, srcBytes: Uint8Array, off: number): void {
    const i = this.count++;
    // Two 32-bit halves: no BigInt per event (the hot path at 1M events/s).
    this.timeNs[i] = src.getUint32(off + OFF.time_ns + 4, true) * 4294967296 + src.getUint32(off + OFF.time_ns, true);
    this.latencyNs[i] =
      src.getUint32(off + OFF.latency_ns + 4, true) * 4294967296 + src.getUint32(off + OFF.latency_ns, true);
    this.command[i] = src.getUint16(off + OFF.command, true);
    this.tool[i] = src.getUint8(off + OFF.tool);
    this.rc[i] = src.getInt32(off + OFF.rc, true);
    this.status[i] = src.getUint32(off + OFF.status, true);
    this.raw.set(srcBytes.subarray(off, off + EVENT_SIZE), i * EVENT_SIZE);
  }

  /** Appends a record longer than EVENT_SIZE: the event, and its tail kept aside. */
  pushWithTail(src: DataView, srcBytes: Uint8Array, off: number, size: number): void {
    this.push(src, srcBytes, off);
    this.tails.set(this.count - 1, srcBytes.slice(off + EVENT_SIZE, off + size));
  }

  /** Empties the batch for reuse. */
  clear(): void {
    this.count = 0;
    if (this.tails.size) this.tails.clear();
  }

  /** Full record i as a plain object (for reports; not on the hot path). */
  decode(i: number, clock: ClockOffset): DecodedEvent {
    const v = this.view;
    const o = i * EVENT_SIZE;
    const commBytes = this.raw.subarray(o + OFF.comm, o + OFF.comm + 16);
    const nul = commBytes.indexOf(0);
    return {
      timeNs: clock.toWall(v.getBigUint64(o + OFF.time_ns, true)),
      latencyNs: v.getBigUint64(o + OFF.latency_ns, true),
      sessionId: v.getBigUint64(o + OFF.session_id, true),
      mid: v.getBigUint64(o + OFF.mid, true),
      treeId: v.getUint32(o + OFF.tree_id, true),
      pid: v.getUint32(o + OFF.pid, true),
      tid: v.getUint32(o + OFF.tid, true),
      rc: v.getInt32(o + OFF.rc, true),
      status: v.getUint32(o + OFF.status, true),
      command: v.getUint16(o + OFF.command, true),
      tool: v.getUint8(o + OFF.tool),
      flags: v.getUint8(o + OFF.flags),
      comm: new TextDecoder().decode(nul < 0 ? commBytes : commBytes.subarray(0, nul)),
      tail: this.tails.get(i),
    };
  }
}

export interface DecodedEvent {
  timeNs: bigint; // wall clock, epoch ns
  latencyNs: bigint;
  sessionId: bigint;
  mid: bigint;
  treeId: number;
  pid: number;
  tid: number;
  rc: number;
  status: number;
  command: number;
  tool: number;
  flags: number;
  comm: string;
  /** The tool's own bytes after the event, when its record has them. */
  tail?: Uint8Array;
}

/** BPF's monotonic clock to wall-clock epoch ns, fixed once at start. */
export class ClockOffset {
  constructor(readonly offsetNs: bigint) {}
  toWall(monoNs: bigint): bigint {
    return monoNs + this.offsetNs;
  }
}

/**
 * The event line format (`aod trace --json`, `--record`, `aod replay`,
 * anomaly.json). The fields below are the SMB request kinds'; a kind may add
 * its own (its spec documents them) and never changes these.
 */
export interface EventLine {
  time_ns: bigint | number;
  /** The event kind's name (src/tools: smbslower, smbiosnoop, ...). */
  tool: string;
  /** Request kinds: the command (SMB2 command name). */
  command?: string;
  latency_ms?: number;
  errno?: string;
  status?: string;
  pid?: number;
  comm?: string;
  session_id?: string;
  tree_id?: string;
  mid?: number | bigint;
  share?: string;
  [field: string]: unknown;
}

/**
 * An SMB event line: the common fields around a kind's own (`fields`, e.g.
 * latency_ms or errno/status), in the order event lines have always had.
 */
export function smbEventLine(
  e: DecodedEvent,
  tool: string,
  fields: Pick<EventLine, "latency_ms" | "errno" | "status">,
  share?: string,
): EventLine {
  const line: EventLine = { time_ns: e.timeNs, tool, command: smb2CommandName(e.command), ...fields };
  line.pid = e.pid;
  line.comm = e.comm;
  line.session_id = `0x${e.sessionId.toString(16)}`;
  line.tree_id = `0x${e.treeId.toString(16)}`;
  line.mid = e.mid;
  if (share) line.share = share;
  return line;
}

/** One event line, as `aod trace --json` prints it. */
export const eventLineJson = (l: EventLine): string => jsonWithBigInts(l);
