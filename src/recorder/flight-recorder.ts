// The kernel flight recorder: aod's own tracefs instance (instances/aod, so
// the top-level buffer and trace-cmd users are untouched) records a fixed set
// of the attached protocols' events in a bounded ring, always. At detection the
// ring is frozen — swapped into the instance's spare `snapshot` buffer where
// the kernel has one, else tracing is paused while it is read — and its text
// goes into the bundle as kernel_trace.log: what the client did just before.
//
// One frozen copy at a time: swap → read → clear is serialised, and an anomaly
// detected while a copy is frozen shares it (it covers that moment too).
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { log } from "../log";
import { monotonicNs, realtimeNs } from "../native/libc";
import { errorMessage } from "../util/errors";
import { traceSpan } from "./trace-text";

export const INSTANCE_NAME = "aod";

export interface RecorderOptions {
  /** tracefs mount point. */
  root: string;
  /** Ring size per CPU, KiB (the spare snapshot buffer doubles the memory). */
  bufferKb: number;
  /** Instance name under instances/ (tests use their own). */
  name?: string;
}

/** What anomaly.json says of the frozen trace. */
export interface KernelTraceFacts {
  file?: string;
  /** "snapshot" (swapped at detection) or "paused" (read with tracing off; no snapshot buffer). */
  how?: string;
  first_event_ns?: bigint;
  last_event_ns?: bigint;
  /** How far before detection the first event lies, s. */
  seconds_before_detection?: number;
  events?: number;
  bytes?: number;
  /** The ring overwrote older events: the trace starts later than the buffer's size suggests. */
  wrapped?: boolean;
  /** Bytes the events took in the ring (all CPUs), for sizing buffer_kb. */
  ring_bytes?: number;
  error?: string;
}

/** A frozen copy, shared by the anomalies detected while it is held. */
export interface FrozenTrace {
  /** The trace text and the facts about it (read once). */
  read(detectedAtNs: bigint): Promise<{ text: string; facts: KernelTraceFacts }>;
  release(): void;
}

export class FlightRecorder {
  readonly dir: string;
  private snapshot = false;
  private frozen?: { refs: number; text?: Promise<string>; wrapped: boolean; ringBytes: number; how: string };
  private enabled = new Set<string>();
  /** Offset from the trace clock (mono) to the wall clock, ns. */
  private readonly wallOffset: bigint;

  constructor(private readonly opts: RecorderOptions) {
    this.dir = `${opts.root}/instances/${opts.name ?? INSTANCE_NAME}`;
    this.wallOffset = realtimeNs() - monotonicNs();
  }

  /** Creates the instance (removing one a crash left), sizes it, allocates the spare buffer. */
  start(): void {
    this.remove(true);
    mkdirSync(this.dir);
    this.write("buffer_size_kb", String(this.opts.bufferKb));
    this.write("trace_clock", "mono"); // timestamps comparable with the events' own
    this.snapshot = existsSync(`${this.dir}/snapshot`);
    if (this.snapshot) {
      this.write("snapshot", "1"); // allocates the spare buffer (and swaps an empty ring)
      this.write("snapshot", "2"); // clears it
    }
    this.write("tracing_on", "1");
  }

  /**
   * Enables the events of `events` ("system/event") that exist now and are not
   * on yet (a module that loads again brings its events back disabled);
   * returns the ones it enabled.
   */
  enable(events: readonly string[]): string[] {
    const added: string[] = [];
    for (const e of events) {
      const file = `${this.dir}/events/${e}/enable`;
      if (!existsSync(file) || readFileSync(file, "utf8").trim() === "1") continue;
      try {
        writeFileSync(file, "1");
        this.enabled.add(e);
        added.push(e);
      } catch (err) {
        log.debug(`flight recorder: ${e}: ${errorMessage(err)}`);
      }
    }
    return added;
  }

  /** Events it enabled that are recorded now. */
  get events(): string[] {
    return [...this.enabled].filter((e) => {
      try {
        return readFileSync(`${this.dir}/events/${e}/enable`, "utf8").trim() === "1";
      } catch {
        return false;
      }
    });
  }

  /** Memory it holds: per CPU ring (and spare), KiB. */
  get memoryKb(): number {
    const cpus = readdirSync(`${this.dir}/per_cpu`).length;
    return this.opts.bufferKb * cpus * (this.snapshot ? 2 : 1);
  }

  get hasSnapshot(): boolean {
    return this.snapshot;
  }

  /**
   * Freezes the ring now (detection time). While a frozen copy is held, later
   * anomalies share it.
   */
  freeze(): FrozenTrace {
    if (!this.frozen) {
      const { overrun, bytes } = this.ringStats();
      this.frozen = { refs: 0, wrapped: overrun > 0, ringBytes: bytes, how: this.snapshot ? "snapshot" : "paused" };
      if (this.snapshot) this.write("snapshot", "1");
      else {
        // No spare buffer: read it now, with tracing off only for the read.
        this.write("tracing_on", "0");
        try {
          this.frozen.text = Promise.resolve(readFileSync(`${this.dir}/trace`, "utf8"));
        } finally {
          this.thaw();
        }
      }
    }
    const f = this.frozen;
    f.refs++;
    let released = false;
    return {
      read: async (detectedAtNs) => {
        f.text ??= this.readFrozen();
        const text = await f.text;
        const span = traceSpan(text);
        const toWall = (s?: bigint) => (s === undefined ? undefined : s + this.wallOffset);
        const first = toWall(span.firstNs);
        return {
          text,
          facts: {
            file: "kernel_trace.log",
            how: f.how,
            first_event_ns: first,
            last_event_ns: toWall(span.lastNs),
            seconds_before_detection: first === undefined ? undefined : Number(detectedAtNs - first) / 1e9,
            events: span.events,
            bytes: text.length,
            wrapped: f.wrapped,
            ring_bytes: f.ringBytes,
          },
        };
      },
      release: () => {
        if (released) return;
        released = true;
        if (--f.refs > 0 || this.frozen !== f) return;
        this.frozen = undefined;
        if (this.snapshot) this.thaw();
      },
    };
  }

  /** Removes the instance (stop). */
  stop(): void {
    this.remove(false);
  }

  private async readFrozen(): Promise<string> {
    return readFileSync(`${this.dir}/snapshot`, "utf8");
  }

  private thaw(): void {
    try {
      if (this.snapshot) this.write("snapshot", "2");
      else {
        closeSync(openSync(`${this.dir}/trace`, "w")); // opened with O_TRUNC: clears what was read
        this.write("tracing_on", "1");
      }
    } catch (e) {
      log.warn("flight recorder: could not resume", { error: errorMessage(e) });
    }
  }

  /** Over all CPUs: events the live ring overwrote since it was last cleared, and the bytes it holds. */
  private ringStats(): { overrun: number; bytes: number } {
    let overrun = 0;
    let bytes = 0;
    for (const cpu of readdirSync(`${this.dir}/per_cpu`)) {
      const stats = readFileSync(`${this.dir}/per_cpu/${cpu}/stats`, "utf8");
      overrun += Number(/^overrun: (\d+)/m.exec(stats)?.[1] ?? 0);
      bytes += Number(/^bytes: (\d+)/m.exec(stats)?.[1] ?? 0);
    }
    return { overrun, bytes };
  }

  private remove(leftover: boolean): void {
    if (!existsSync(this.dir)) return;
    try {
      rmdirSync(this.dir);
      if (leftover) log.warn(`flight recorder: removed the tracefs instance a previous run left (${this.dir})`);
    } catch (e) {
      log.warn(`flight recorder: cannot remove ${this.dir}`, { error: errorMessage(e) });
    }
    this.enabled.clear();
  }

  private write(file: string, value: string): void {
    writeFileSync(`${this.dir}/${file}`, value);
  }
}
