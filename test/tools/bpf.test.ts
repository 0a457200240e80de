// The SMB tools' BPF objects through libbpf on this kernel: what loads without
// cifs (the tracepoint variant: tracepoint programs load before their event
// exists), map sharing between the two objects, exact lost-event accounting
// (ringtest load generator), and SmbSource waiting for cifs. What needs cifs
// (fentry/kprobe variants, attaching) is covered by test/vm (02-trace) and
// skipped here with the reason printed.

import { dlopen, FFIType } from "bun:ffi";
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cifsLoaded } from "../../src/host/modules";
import { BpfObject } from "../../src/native/libbpf";
import { describeAttachPlan } from "../../src/tools/attach-plan";
import { LoadgenSource } from "../../src/tools/loadgen-source";
import { PROGRAMS as ERR_PROGRAMS, smberr } from "../../src/tools/smberr";
import { RELEASE_PROGRAMS, PROGRAMS as SLOWER_PROGRAMS } from "../../src/tools/smbslower";

const SHARED_MAPS = smberr.sharedMaps!;

import { ToolSource } from "../../src/tools/tool-source";
import { needsRoot, ROOT, skipReason } from "../helpers";

const SLOWER = join(ROOT, "build/bpf/smbslower.bpf.o");
const ERR = join(ROOT, "build/bpf/smberr.bpf.o");
const RINGTEST = join(ROOT, "build/test/ringtest.bpf.o");
const { symbols: libc } = dlopen("libc.so.6", { getppid: { args: [], returns: FFIType.i32 } });
const noObjects = () =>
  skipReason({ "build/bpf/*.bpf.o missing (make build)": !existsSync(SLOWER) || !existsSync(ERR) });

function openSlower(variant: "fentry" | "kprobe" | "tracepoint"): BpfObject {
  const obj = BpfObject.openMem(readFileSync(SLOWER), "smbslower");
  const want = new Set(SLOWER_PROGRAMS[variant]);
  for (const p of obj.programs()) p.setAutoload(want.has(p.name));
  return obj;
}

describe("smbslower / smberr objects", () => {
  test("every program of the registry exists in the objects, and nothing else", () => {
    if (noObjects()) return;
    const slower = BpfObject.openMem(readFileSync(SLOWER), "smbslower");
    const err = BpfObject.openMem(readFileSync(ERR), "smberr");
    try {
      const listed = [
        ...Object.values(SLOWER_PROGRAMS).flat(),
        ...new Set(Object.values(RELEASE_PROGRAMS).flat()),
      ].sort();
      expect(
        slower
          .programs()
          .map((p) => p.name)
          .sort(),
      ).toEqual(listed);
      expect(
        err
          .programs()
          .map((p) => p.name)
          .sort(),
      ).toEqual(Object.values(ERR_PROGRAMS).flat().sort());
      for (const m of [...SHARED_MAPS, "thresholds", "hist", "counters"]) expect(slower.map(m).name).toBe(m);
      for (const m of [...SHARED_MAPS, "errnos", "op_desc", "op_xid_seen", "thread_err"])
        expect(err.map(m).name).toBe(m);
      slower.setRodata({
        alloc_arg_shdr: 0,
        alloc_arg_server: 1,
        done_arg_mid: 1,
        rel_mode: 2,
        rel_arg: 0,
        filter_tgid: 7,
        tp_off: new Uint16Array(18),
      });
      err.setRodata({
        tp_off: new Uint16Array(6),
        filter_tgid: 7,
        command_mask: 1,
        connect_rc_off: 152,
        local_errnos: 1n << 48n,
      });
    } finally {
      slower.close();
      err.close();
    }
  });

  test("the tracepoint variant loads; smberr loads on smbslower's shared maps", () => {
    if (needsRoot() || noObjects()) return;
    const slower = openSlower("tracepoint");
    let err: BpfObject | undefined;
    try {
      slower.map("events").setMaxEntries(1 << 16);
      slower.load();
      err = BpfObject.openMem(readFileSync(ERR), "smberr");
      for (const m of SHARED_MAPS) err.map(m).reuse(slower.map(m));
      err.load();
      expect(err.map("events").maxEntries).toBe(1 << 16);
      // One `recent` map seen through both objects (an array of struct
      // smb_recent_slot: check, key, smb_done).
      const key = new Uint32Array([7]);
      const val = new Uint8Array(64);
      new DataView(val.buffer).setUint32(36, 4242, true); // done.pid
      slower.map("recent").update(key, val);
      const back = new Uint8Array(64);
      expect(err.map("recent").lookup(key, back)).toBe(true);
      expect(new DataView(back.buffer).getUint32(36, true)).toBe(4242);
      // Thresholds: one u64 per SMB2 command.
      slower.map("thresholds").update(new Uint32Array([9]), new BigUint64Array([50_000_000n]));
    } finally {
      err?.close();
      slower.close();
    }
  });

  test("fentry and kprobe variants load (needs cifs with BTF)", () => {
    if (needsRoot() || noObjects()) return;
    const plan = describeAttachPlan();
    for (const v of ["fentry", "kprobe"] as const) {
      const c = plan.available.find((x) => x.name === v)!;
      if (skipReason({ [`${v} variant: ${c.why} (verified in the VM: test/vm 02-trace)`]: !c.ok })) continue;
      const obj = openSlower(v);
      try {
        obj.setRodata({
          alloc_arg_shdr: plan.args.allocShdr,
          alloc_arg_server: plan.args.allocServer,
          done_arg_mid: plan.args.doneMid,
        });
        obj.load();
      } finally {
        obj.close();
      }
    }
  });
});

describe("lost events", () => {
  test("a full ring counts every record it drops: delivered + lost = generated", async () => {
    if (
      needsRoot() ||
      skipReason({ "build/test/ringtest.bpf.o missing (make test-unit builds it)": !existsSync(RINGTEST) })
    )
      return;
    const burst = 400;
    const rounds = 3;
    let delivered = 0;
    // One page of ring: 4096 / (72 + 8) = 51 records fit; each getppid() writes `burst`
    // while this thread (the reader's) is inside the syscall, so the rest is lost.
    const src = new LoadgenSource({ objectPath: RINGTEST, targetPid: process.pid, ringBytes: 4096, rodata: { burst } });
    await src.start((b) => (delivered += b.count));
    try {
      for (let i = 0; i < rounds; i++) {
        libc.getppid();
        for (let t = 0; t < 100 && delivered < (i + 1) * 51; t++) await Bun.sleep(10);
      }
      await Bun.sleep(50);
      const lost = src.lost();
      expect(lost.smbiosnoop).toBe(0n);
      expect(lost.smbslower).toBeGreaterThan(0n);
      expect(BigInt(delivered) + lost.smbslower!).toBe(BigInt(burst * rounds));
    } finally {
      await src.close();
    }
  });
});

describe("SmbSource", () => {
  test("without cifs: starts, waits, says so, and closes", async () => {
    if (needsRoot() || noObjects()) return;
    if (skipReason({ "cifs is loaded here: the waiting state cannot be observed": cifsLoaded() })) return;
    const src = new ToolSource("smb", {}, { pollMs: 100 });
    await src.start(() => {});
    try {
      expect(src.attached).toBe(false);
      expect(src.status()).toBe("waiting for cifs (module not loaded)");
      expect(src.lost()).toEqual({ smbslower: 0n, smbiosnoop: 0n, smbconn: 0n });
      expect(src.histograms()).toEqual([]);
    } finally {
      await src.close();
    }
    expect(src.status()).toBe("closed");
  });

  test("attach plan without cifs: nothing usable, and why", () => {
    if (skipReason({ "cifs is loaded here": cifsLoaded() })) return;
    const plan = describeAttachPlan();
    expect(plan.hooks).toBeNull();
    expect(plan.reason).toContain("cifs module not loaded");
    expect(plan.available.map((c) => c.name)).toEqual(["fentry", "kprobe", "tracepoint"]);
    expect(plan.available.every((c) => !c.ok && c.why.length > 0)).toBe(true);
    expect(plan.tpOffsets).toEqual([
      [8, 16, 24, 32, 40, 44],
      [8, 16, 24, 32, 40, 44],
      [8, 16, 24, 32, 40, 44],
    ]);
  });
});
