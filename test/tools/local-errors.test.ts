// smberr's connection-level hooks (bpf/smberr.bpf.c): per-operation error
// events → op_desc map values from their format files (Debian 6.1 and 6.12
// fixtures, read in the VM), the SMB2 command table, the local-errno bitmap.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SMB2_COMMANDS, smb2CommandId } from "../../src/format/smb2-commands";
import { parseFormat } from "../../src/host/tracefs";
import {
  describeLocalErrorHooks,
  LOCAL_ERRNOS,
  localErrnoMask,
  OP_ERR_EVENTS,
  opDescValue,
  opErrHook,
  opErrProgram,
} from "../../src/tools/attach-plan";
import { PROGRAMS } from "../../src/tools/smberr";

const FIX = join(import.meta.dir, "fixtures");
const format = (kernel: string, event: string) => readFileSync(join(FIX, `format-${kernel}-${event}.txt`), "utf8");
const hook = (kernel: string, event: string) => {
  return opErrHook(event, parseFormat(format(kernel, event)));
};

describe("format files → op_desc", () => {
  test("smb3_write_err moved its fields in 6.12: offsets follow the format file", () => {
    const h61 = hook("6.1", "smb3_write_err")!;
    const h612 = hook("6.12", "smb3_write_err")!;
    expect({ rc: h61.rcOff, xid: h61.xidOff, tid: h61.tidOff, ses: h61.sesidOff }).toEqual({
      rc: 52,
      xid: 8,
      tid: 24,
      ses: 32,
    });
    expect({ rc: h612.rcOff, xid: h612.xidOff, tid: h612.tidOff, ses: h612.sesidOff }).toEqual({
      rc: 60,
      xid: 16,
      tid: 32,
      ses: 40,
    });
    expect(h612.command).toBe(smb2CommandId("SMB2_WRITE")!);
    expect(h612.ids).toBe(true);
  });

  test("open and the compound query-info: same layout on both kernels, mapped commands", () => {
    for (const k of ["6.1", "6.12"]) {
      const open = hook(k, "smb3_open_err")!;
      expect(open).toMatchObject({
        rcOff: 32,
        xidOff: 8,
        tidOff: 12,
        sesidOff: 16,
        command: smb2CommandId("SMB2_CREATE"),
        ids: true,
      });
      const qi = hook(k, "smb3_query_info_compound_err")!;
      expect(qi).toMatchObject({
        rcOff: 24,
        xidOff: 8,
        tidOff: 12,
        sesidOff: 16,
        command: smb2CommandId("SMB2_QUERY_INFO"),
        ids: false,
      });
    }
  });

  test("smb3_connect_err's rc offset", () => {
    for (const k of ["6.1", "6.12"]) expect(parseFormat(format(k, "smb3_connect_err")).rc?.offset).toBe(152);
  });

  test("unusable: unknown event, no rc", () => {
    const f = parseFormat(format("6.1", "smb3_open_err"));
    expect(opErrHook("smb3_bogus_err", f)).toBeUndefined();
    const { rc: _rc, ...noRc } = f;
    expect(opErrHook("smb3_open_err", noRc)).toBeUndefined();
    expect(opErrHook("smb3_open_err", f)!.index).toBe(Object.keys(OP_ERR_EVENTS).indexOf("smb3_open_err"));
  });

  test("op_desc value: struct op_desc (12 bytes, little endian)", () => {
    const v = opDescValue({
      event: "smb3_write_err",
      index: 5,
      rcOff: 60,
      xidOff: 16,
      tidOff: 32,
      sesidOff: 40,
      command: 9,
      ids: true,
    });
    expect([...v]).toEqual([60, 0, 16, 0, 32, 0, 40, 0, 9, 0, 1, 0]);
    expect(
      opDescValue({
        event: "x",
        index: 1,
        rcOff: 24,
        xidOff: 8,
        tidOff: 12,
        sesidOff: 16,
        command: 16,
        ids: false,
      })[10],
    ).toBe(0);
  });

  test("BPF struct op_desc matches (field order in bpf/smberr.bpf.c)", () => {
    const src = readFileSync(join(import.meta.dir, "../../bpf/smberr.bpf.c"), "utf8");
    const body = /struct op_desc \{([^}]*)\}/.exec(src)![1]!;
    expect([...body.matchAll(/__u(\d+) (\w+);/g)].map((m) => `${m[2]}:${m[1]}`)).toEqual([
      "rc_off:16",
      "xid_off:16",
      "tid_off:16",
      "sesid_off:16",
      "command:16",
      "flags:8",
      "_pad:8",
    ]);
    expect(src).toContain("#define OPD_IDS 1");
  });

  test("one BPF program per event, OP_ERR(event, index) in OP_ERR_EVENTS order", () => {
    const src = readFileSync(join(import.meta.dir, "../../bpf/smberr.bpf.c"), "utf8");
    const listed = [...src.matchAll(/^OP_ERR\((\w+), (\d+)\)$/gm)].map((m) => [m[1], Number(m[2])]);
    expect(listed).toEqual(Object.keys(OP_ERR_EVENTS).map((e, i) => [e, i]));
    expect(src).toMatch(/max_entries, 64\);\s*__type\(key, __u32\);\s*__type\(value, struct op_desc\)/);
    expect(Object.keys(OP_ERR_EVENTS).length).toBeLessThanOrEqual(64);
  });
});

describe("tables", () => {
  test("every per-operation event maps to a known SMB2 command and is a *_err event", () => {
    for (const [event, spec] of Object.entries(OP_ERR_EVENTS)) {
      expect(event).toMatch(/^smb3_\w+_err$/);
      expect<readonly string[]>(SMB2_COMMANDS).toContain(spec.command);
    }
    expect(OP_ERR_EVENTS.smb3_open_err!.command).toBe("SMB2_CREATE");
    expect(OP_ERR_EVENTS.smb3_query_info_compound_err!.command).toBe("SMB2_QUERY_INFO");
    expect(OP_ERR_EVENTS.smb3_read_err!.command).toBe("SMB2_READ");
    expect(OP_ERR_EVENTS.smb3_write_err!.command).toBe("SMB2_WRITE");
    expect(OP_ERR_EVENTS.smb3_close_err!.command).toBe("SMB2_CLOSE");
    // Not an error of an operation: connect (own hook), exit (duplicates every op error), cmd (the main hook).
    for (const e of ["smb3_connect_err", "smb3_exit_err", "smb3_cmd_err"]) expect(OP_ERR_EVENTS[e]).toBeUndefined();
  });

  test("local errnos: connection failures only, never EAGAIN or server-style errnos", () => {
    expect(LOCAL_ERRNOS.EHOSTDOWN).toBe(112);
    expect(LOCAL_ERRNOS.ECONNREFUSED).toBe(111);
    expect(LOCAL_ERRNOS.ETIMEDOUT).toBe(110);
    expect(Object.keys(LOCAL_ERRNOS)).not.toContain("EAGAIN");
    for (const e of Object.values(LOCAL_ERRNOS)) expect(e >= 64 && e <= 127).toBe(true);
  });

  test("local errno bitmap: bit errno - 64; out-of-range errnos ignored", () => {
    expect(localErrnoMask([64])).toBe(1n);
    expect(localErrnoMask([112, 111])).toBe((1n << 48n) | (1n << 47n));
    expect(localErrnoMask([11, 2, 128])).toBe(0n);
    const m = localErrnoMask();
    expect(m & (1n << 48n)).not.toBe(0n);
    expect(m < 1n << 64n).toBe(true);
  });

  test("smbiosnoop programs: the cmd_err hook always, connect and per-operation hooks by presence", () => {
    expect(PROGRAMS.any).toEqual(["smberr_cmd_err"]);
    expect(PROGRAMS.connect).toEqual(["smberr_connect_err"]);
    expect(PROGRAMS.opErr).toEqual(Object.keys(OP_ERR_EVENTS).map((e) => `smberr_${e}`));
    expect(opErrProgram("smb3_open_err")).toBe("smberr_smb3_open_err");
  });

  test("`errors` check text lists the extra attach points, present or not", () => {
    const h = {
      event: "smb3_open_err",
      index: 0,
      rcOff: 32,
      xidOff: 8,
      tidOff: 12,
      sesidOff: 16,
      command: 5,
      ids: true,
    };
    const t = describeLocalErrorHooks(true, [h], ["smb3_mknod_err"]);
    expect(t).toContain("cifs:smb3_connect_err");
    expect(t).toContain("1/2 per-operation");
    expect(t).toContain("not on this kernel: smb3_mknod_err");
    expect(t).toContain("EHOSTDOWN");
    expect(describeLocalErrorHooks(false, [], ["smb3_open_err"])).toMatch(/no cifs:smb3_connect_err.*no per-operation/);
  });
});
