// The ring reader against a real BPF ring buffer (the ringtest load generator):
// its data area is mapped once, so records that wrap around its end are copied;
// every record must arrive whole and in order, with each waiter (the native
// thread and the Worker fallback).
import { dlopen, FFIType } from "bun:ffi";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SMB2_COMMAND_COUNT } from "../../src/format/smb2-commands";
import { libc as libcFd } from "../../src/native/libc";
import { LoadgenSource } from "../../src/tools/loadgen-source";
import { openRingWaiter } from "../../src/tools/ring-waiter";
import { needsRoot, ROOT, skipReason } from "../helpers";

const RINGTEST = join(ROOT, "build/test/ringtest.bpf.o");
const { symbols: libc } = dlopen("libc.so.6", { getppid: { args: [], returns: FFIType.i32 } });
const saved = process.env.AOD_RING_WAITER;
afterEach(() => {
  if (saved === undefined) delete process.env.AOD_RING_WAITER;
  else process.env.AOD_RING_WAITER = saved;
});

describe.each(["native", "worker"])("ring reader with the %s waiter", (waiter) => {
  test("records that wrap around the ring's end arrive whole and in order, tails included", async () => {
    if (
      needsRoot() ||
      skipReason({ "build/test/ringtest.bpf.o missing (make test-unit builds it)": !existsSync(RINGTEST) })
    )
      return;
    process.env.AOD_RING_WAITER = waiter;
    const burst = 20; // 10 plain (80 B) + 10 tailed (120 B) records: 2 KB of a 4 KiB ring per call
    const rounds = 60; // ~30 trips around the ring, at a different offset each time
    const mids: bigint[] = [];
    const problems: string[] = [];
    const src = new LoadgenSource({
      objectPath: RINGTEST,
      targetPid: process.pid,
      ringBytes: 4096,
      rodata: { burst, with_tail: 1 },
    });
    await src.start((b) => {
      for (let i = 0; i < b.count; i++) {
        const e = b.decode(i, { toWall: (t: bigint) => t } as never);
        mids.push(e.mid);
        if (e.command !== Number(e.mid % BigInt(SMB2_COMMAND_COUNT)))
          problems.push(`mid ${e.mid}: command ${e.command}`);
        if (e.sessionId !== 0x1234n || e.treeId !== 5) problems.push(`mid ${e.mid}: header fields`);
        const odd = mids.length % 2 === 0; // the generator tails every second record of a burst
        const tail = e.tail ? String.fromCharCode(e.tail[0]!, e.tail[1]!) : undefined;
        if (odd && e.tail?.length !== 40) problems.push(`mid ${e.mid}: tail of ${e.tail?.length}`);
        if (odd && tail !== `t${((mids.length - 1) % burst) & 7}`) problems.push(`mid ${e.mid}: tail ${tail}`);
        if (!odd && e.tail) problems.push(`mid ${e.mid}: unexpected tail`);
      }
    });
    try {
      for (let i = 0; i < rounds; i++) {
        libc.getppid();
        // Wait for this burst: the ring holds less than two.
        for (let t = 0; t < 200 && mids.length < (i + 1) * burst; t++) await Bun.sleep(2);
      }
      expect(src.lost().smbslower).toBe(0n);
      expect(mids.length).toBe(burst * rounds);
      expect(mids.every((m, i) => i === 0 || m === mids[i - 1]! + 1n)).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await src.close();
    }
  });
});

// The waiter's protocol, on an eventfd standing in for the ring (both are
// level-triggered: readable while there is something to read).
describe.each(["thread", "worker"] as const)("the %s ring waiter", (kind) => {
  test("reports once per arm while the fd is readable, and closes", async () => {
    process.env.AOD_RING_WAITER = kind === "worker" ? "worker" : "";
    const fd = libcFd.eventfd(0, 0x80000);
    let calls = 0;
    const threads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
    const before = threads();
    const w = openRingWaiter(fd, () => calls++);
    try {
      expect(w.kind).toBe(kind);
      w.arm();
      await Bun.sleep(50);
      expect(calls).toBe(0); // armed, nothing to read
      libcFd.eventfd_write(fd, 1n);
      for (let t = 0; t < 100 && calls === 0; t++) await Bun.sleep(5);
      expect(calls).toBe(1);
      await Bun.sleep(50);
      expect(calls).toBe(1); // still readable, but not armed again
      w.arm();
      for (let t = 0; t < 100 && calls === 1; t++) await Bun.sleep(5);
      expect(calls).toBe(2);
    } finally {
      const t0 = performance.now();
      await w.close();
      expect(performance.now() - t0).toBeLessThan(900); // exited, not timed out
      libcFd.close(fd);
      if (kind === "thread") {
        for (let t = 0; t < 50 && threads() > before; t++) await Bun.sleep(10);
        expect(threads()).toBeLessThanOrEqual(before); // the thread is gone (Bun's pool threads come and go)
      }
    }
  });
});
