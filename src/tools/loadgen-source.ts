// The load generator as an event source: a BPF object (test/fixtures/
// ringtest.bpf.c) that turns getppid() calls of one process into aod_event
// records on aod's own ring buffer, so tests and `make bench` drive the real
// path — kernel ring → reader → decode → detectors — without SMB.
import { readFileSync } from "node:fs";
import type { EventBatch } from "../format/event";
import { BpfObject } from "../native/libbpf";
import { readPercpuU64 } from "./hist";
import { TOOLS } from "./registry";
import { RingReader } from "./ring-reader";
import { currentClockOffset, type EventSource } from "./source";

export interface LoadgenOptions {
  objectPath: string;
  targetPid: number;
  ringBytes?: number;
  rodata?: Record<string, number | bigint>;
  /** The reader's longest poll interval while a stream goes on (benchmarks compare settings). */
  maxLagMs?: number;
}

export class LoadgenSource implements EventSource {
  readonly name = "loadgen";
  readonly clock = currentClockOffset();
  private obj?: BpfObject;
  private reader?: RingReader;

  constructor(private readonly opts: LoadgenOptions) {}

  async start(onBatch: (b: EventBatch) => void): Promise<void> {
    const obj = BpfObject.openMem(readFileSync(this.opts.objectPath), "loadgen");
    try {
      obj.setRodata({ target_tgid: this.opts.targetPid, ...this.opts.rodata });
      obj.map("events").setMaxEntries(this.opts.ringBytes ?? 1 << 22); // as the SMB tools: benchmarks measure what ships
      obj.load();
      obj.program("ringtest_sys_enter").attach();
      this.reader = new RingReader(obj.map("events"), onBatch, { maxLagMs: this.opts.maxLagMs });
      this.reader.start();
      this.obj = obj;
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  lost(): Record<string, bigint> {
    if (!this.obj) return {};
    const lost = this.obj.map("lost");
    // It writes SMB records: the SMB tools' counters (as a real SMB source reports them).
    const smb = TOOLS.filter((t) => t.protocol === "smb");
    return Object.fromEntries(smb.map((t) => [t.kind.name, readPercpuU64(lost, t.lostIndex)]));
  }

  status(): string {
    return this.obj ? `loadgen attached (pid ${this.opts.targetPid})` : "loadgen not started";
  }

  async close(): Promise<void> {
    await this.reader?.close();
    this.obj?.close();
    this.obj = undefined;
  }
}
