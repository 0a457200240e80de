import { dlopen, FFIType } from "bun:ffi";
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ClockOffset, type EventBatch } from "../../src/format/event";
import { NativeError } from "../../src/native/errors";
import { BpfObject, libbpfVersion, numPossibleCpus } from "../../src/native/libbpf";
import { RingReader } from "../../src/tools/ring-reader";
import { needsRoot, ROOT, skipReason } from "../helpers";

const OBJ = join(ROOT, "build/test/ringtest.bpf.o");
const { symbols: libc } = dlopen("libc.so.6", { getppid: { args: [], returns: FFIType.i32 } });
const noObject = () => skipReason({ "build/test/ringtest.bpf.o missing (make test-unit builds it)": !existsSync(OBJ) });

function openLoaded(rodata: Record<string, number | bigint>, ringBytes = 1 << 20) {
  const obj = BpfObject.openMem(readFileSync(OBJ), "ringtest");
  obj.setRodata({ target_tgid: process.pid, ...rodata });
  obj.map("events").setMaxEntries(ringBytes);
  obj.load();
  obj.program("ringtest_sys_enter").attach();
  return obj;
}

describe("libbpf through bun:ffi", () => {
  test("version and possible CPUs", () => {
    expect(libbpfVersion()).toMatch(/^v1\.\d+/);
    expect(numPossibleCpus()).toBeGreaterThanOrEqual(1);
  });

  test("garbage bytes are rejected with libbpf's message and errno", () => {
    try {
      BpfObject.openMem(new Uint8Array(64), "garbage");
      throw new Error("accepted garbage");
    } catch (e) {
      expect(e).toBeInstanceOf(NativeError);
      expect((e as NativeError).errno).toBeGreaterThan(0);
      expect((e as Error).message).toContain("open BPF object garbage failed");
    }
  });

  test("unknown program, map and rodata names are errors", () => {
    if (noObject()) return;
    const obj = BpfObject.openMem(readFileSync(OBJ), "ringtest");
    try {
      expect(() => obj.program("nope")).toThrow(/find program nope/);
      expect(() => obj.map("nope")).toThrow(/find map nope/);
      expect(() => obj.setRodata({ nope: 1 })).toThrow(/no const volatile variable "nope"/);
    } finally {
      obj.close();
    }
  });

  test("a raw tracepoint program writes aod_event records the reader reads back", async () => {
    if (needsRoot() || noObject()) return;
    const obj = openLoaded({ burst: 3, latency_ns: 123_456_789n, tool: 1, rc: -13 });
    const seen: ReturnType<EventBatch["decode"]>[] = [];
    const clock = new ClockOffset(0n);
    const reader = new RingReader(obj.map("events"), (b) => {
      for (let i = 0; i < b.count; i++) seen.push(b.decode(i, clock));
    });
    try {
      for (let i = 0; i < 10; i++) libc.getppid();
      expect(reader.drain()).toBe(30);
      expect(seen.length).toBe(30);
      const e = seen[7]!;
      expect(e.pid).toBe(process.pid);
      expect(e.latencyNs).toBe(123_456_789n);
      expect(e.rc).toBe(-13);
      expect(e.status).toBe(0xc0000022);
      expect(e.tool).toBe(1);
      expect(e.sessionId).toBe(0x1234n);
      expect(e.treeId).toBe(5);
      expect(e.command).toBe(Number(e.mid % 20n));
      expect(e.comm.length).toBeGreaterThan(0);
      expect(seen.map((s) => s.mid)).toEqual(seen.map((_, i) => seen[0]!.mid + BigInt(i)));
    } finally {
      await reader.close();
      obj.close();
    }
  });

  test("records with a tail: the event in the batch's columns, the tail kept for decode()", async () => {
    if (needsRoot() || noObject()) return;
    const obj = openLoaded({ burst: 4, with_tail: 1 });
    const seen: ReturnType<EventBatch["decode"]>[] = [];
    const clock = new ClockOffset(0n);
    const reader = new RingReader(obj.map("events"), (b) => {
      for (let i = 0; i < b.count; i++) seen.push(b.decode(i, clock));
    });
    try {
      for (let i = 0; i < 3; i++) libc.getppid();
      expect(reader.drain()).toBe(12);
      expect(reader.malformed).toBe(0);
      expect(seen.map((e) => e.tail?.length ?? 0)).toEqual([0, 40, 0, 40, 0, 40, 0, 40, 0, 40, 0, 40]);
      expect(new TextDecoder().decode(seen[3]!.tail!.subarray(0, 2))).toBe("t3");
      expect(seen.map((s) => s.mid)).toEqual(seen.map((_, i) => seen[0]!.mid + BigInt(i)));
      expect(seen[1]!.pid).toBe(process.pid);
    } finally {
      await reader.close();
      obj.close();
    }
  });

  test("the background waiter delivers a burst without polling", async () => {
    if (needsRoot() || noObject()) return;
    const obj = openLoaded({ burst: 20 });
    let got = 0;
    const reader = new RingReader(obj.map("events"), (b) => {
      got += b.count;
    });
    try {
      reader.start();
      const t0 = performance.now();
      libc.getppid();
      while (got < 20 && performance.now() - t0 < 2000) await Bun.sleep(1);
      expect(got).toBe(20);
      expect(performance.now() - t0).toBeLessThan(500);
    } finally {
      await reader.close();
      obj.close();
    }
  });

  test("a full ring counts every record it drops", async () => {
    if (needsRoot() || noObject()) return;
    const obj = openLoaded({ burst: 1000 }, 4096 * 4); // room for ~200 records
    let got = 0;
    const reader = new RingReader(obj.map("events"), (b) => {
      got += b.count;
    });
    try {
      for (let i = 0; i < 5; i++) libc.getppid();
      reader.drain();
      const lost = new BigUint64Array(numPossibleCpus());
      obj.map("lost").lookup(new Uint32Array([0]), lost);
      const dropped = Number(lost.reduce((a, b) => a + b, 0n));
      expect(dropped).toBeGreaterThan(0);
      expect(got + dropped).toBe(5000);
    } finally {
      await reader.close();
      obj.close();
    }
  });
});
