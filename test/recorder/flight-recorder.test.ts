// The flight recorder on this host's real tracefs: its own instance, events
// recorded, frozen at detection and read, shared while held, the instance
// removed at stop and a crash's leftover removed at start. This kernel has no
// snapshot buffer (CONFIG_TRACER_SNAPSHOT), so the "paused" path runs here; the
// VM's Debian kernels run the snapshot path (test/vm).
import { dlopen, FFIType } from "bun:ffi";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { tracefsRoot } from "../../src/host/tracefs";
import { FlightRecorder } from "../../src/recorder/flight-recorder";
import { traceSpan } from "../../src/recorder/trace-text";
import { needsRoot, skipReason } from "../helpers";

const { symbols: libc } = dlopen("libc.so.6", { getppid: { args: [], returns: FFIType.i32 } });
const EVENT = "syscalls/sys_enter_getppid";
const NAME = `aod-test-${process.pid}`;
let rec: FlightRecorder | undefined;
afterEach(() => {
  rec?.stop();
  rec = undefined;
});

function recorder(bufferKb = 256): FlightRecorder | undefined {
  if (needsRoot()) return undefined;
  const root = tracefsRoot();
  if (skipReason({ "no tracefs": !root, [`no ${EVENT} event`]: !!root && !existsSync(`${root}/events/${EVENT}`) }))
    return undefined;
  rec = new FlightRecorder({ root: root!, bufferKb, name: NAME });
  return rec;
}

describe("trace text", () => {
  test("span and count from the timestamps; headers skipped", () => {
    const text = [
      "# tracer: nop",
      "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
      "            bash-4242    [001] .....   100.000250: smb3_cmd_enter: sid=0x1 tid=0x5 cmd=8 mid=7",
      "           cifsd-99      [000] .....   101.500000: smb3_cmd_done: sid=0x1 tid=0x5 cmd=8 mid=7",
    ].join("\n");
    expect(traceSpan(text)).toEqual({ firstNs: 100_000_250_000n, lastNs: 101_500_000_000n, events: 2 });
    expect(traceSpan("# tracer: nop\n")).toEqual({ firstNs: undefined, lastNs: undefined, events: 0 });
  });
});

describe("flight recorder (real tracefs)", () => {
  test("records its events in its own instance; a freeze holds what happened before", async () => {
    const r = recorder();
    if (!r) return;
    r.start();
    expect(existsSync(r.dir)).toBe(true);
    expect(r.enable([EVENT, "nosuch/event"])).toEqual([EVENT]);
    expect(r.enable([EVENT])).toEqual([]); // already on
    expect(r.events).toEqual([EVENT]);
    for (let i = 0; i < 20; i++) libc.getppid();
    const detected = BigInt(Date.now()) * 1_000_000n;
    const f = r.freeze();
    const { text, facts } = await f.read(detected);
    expect((text.match(/sys_getppid\(\)/g) ?? []).length).toBeGreaterThanOrEqual(20); // how tracefs prints sys_enter_getppid
    expect(facts).toMatchObject({
      file: "kernel_trace.log",
      how: r.hasSnapshot ? "snapshot" : "paused",
      wrapped: false,
    });
    expect(facts.events).toBeGreaterThanOrEqual(20);
    expect(facts.first_event_ns! <= facts.last_event_ns!).toBe(true);
    // The trace clock (mono) converted to the wall clock: the events are just before detection.
    expect(facts.seconds_before_detection!).toBeGreaterThanOrEqual(-0.5);
    expect(facts.seconds_before_detection!).toBeLessThan(10);
    // A second anomaly while the copy is held shares it.
    const g = r.freeze();
    expect((await g.read(detected)).text).toBe(text);
    f.release();
    g.release();
    // Released: the next freeze holds only what came after.
    for (let i = 0; i < 3; i++) libc.getppid();
    const h = r.freeze();
    const next = await h.read(BigInt(Date.now()) * 1_000_000n);
    h.release();
    expect(next.facts.events).toBeLessThan(facts.events!);
    expect(next.facts.events).toBeGreaterThanOrEqual(3);
  });

  test("a ring too small for what happened says it wrapped", async () => {
    const r = recorder(64);
    if (!r) return;
    r.start();
    r.enable([EVENT]);
    for (let i = 0; i < 20_000; i++) libc.getppid();
    const f = r.freeze();
    const { facts } = await f.read(BigInt(Date.now()) * 1_000_000n);
    f.release();
    expect(facts.wrapped).toBe(true);
  });

  test("stop removes the instance; start removes one a crash left", () => {
    const r = recorder();
    if (!r) return;
    mkdirSync(r.dir); // as a killed aod leaves it
    r.start();
    expect(existsSync(r.dir)).toBe(true);
    expect(r.memoryKb).toBeGreaterThanOrEqual(256);
    r.stop();
    expect(existsSync(r.dir)).toBe(false);
  });
});
