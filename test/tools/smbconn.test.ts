// smbconn: its object (layout, programs, loading on smbslower's maps), the
// descriptors user space builds from the events' format files, and its event
// lines (decoded from records with a tail, and read back for replay).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseEventLine } from "../../src/daemon/event-lines";
import { EVENT_SIZE, OFF } from "../../src/format/event";
import { parseFormat } from "../../src/host/tracefs";
import { BpfObject } from "../../src/native/libbpf";
import {
  CONN_EVENTS,
  connDesc,
  connHooks,
  decodeConnTail,
  smbconn,
  smbconnKind,
  sockaddrText,
} from "../../src/tools/smbconn";
import { needsRoot, ROOT, skipReason, tempDir } from "../helpers";

const OBJ = join(ROOT, "build/bpf/smbconn.bpf.o");
const SLOWER = join(ROOT, "build/bpf/smbslower.bpf.o");
const noObject = () => skipReason({ "build/bpf/smbconn.bpf.o missing (make build)": !existsSync(OBJ) });

const field = (decl: string, offset: number, size: number) =>
  `\tfield:${decl};\toffset:${offset};\tsize:${size};\tsigned:0;\n`;
const COMMON = field("unsigned short common_type", 0, 2) + field("int common_pid", 4, 4);
// As Debian's 6.1 and 6.12 kernels print them.
const FORMATS: Record<string, string> = {
  smb3_reconnect:
    COMMON + field("__u64 currmid", 8, 8) + field("__u64 conn_id", 16, 8) + field("__data_loc char[] hostname", 24, 4),
  smb3_connect_err:
    COMMON +
    field("__data_loc char[] hostname", 8, 4) +
    field("__u64 conn_id", 16, 8) +
    field("__u8 dst_addr[128]", 24, 128) +
    field("int rc", 152, 4),
  smb3_ses_expired:
    COMMON +
    field("__u32 tid", 8, 4) +
    field("__u64 sesid", 16, 8) +
    field("__u16 cmd", 24, 2) +
    field("__u64 mid", 32, 8),
  smb3_tcon:
    COMMON +
    field("unsigned int xid", 8, 4) +
    field("__u32 tid", 12, 4) +
    field("__u64 sesid", 16, 8) +
    field("__data_loc char[] name", 24, 4) +
    field("int rc", 28, 4),
};

const descFields = (d: Uint8Array) => {
  const v = new DataView(d.buffer);
  return {
    conn_id: v.getUint16(0, true),
    sesid: v.getUint16(2, true),
    tid: v.getUint16(4, true),
    rc: v.getUint16(6, true),
    host: v.getUint16(8, true),
    unc: v.getUint16(10, true),
    addr: v.getUint16(12, true),
    hostLoc: d[14],
    uncLoc: d[15],
    kind: d[16],
    onlyFailed: d[17],
  };
};

describe("smbconn object", () => {
  test("struct aod_event, conn_tail and conn_desc match the decoder and the descriptor writer", () => {
    if (noObject()) return;
    const o = BpfObject.openMem(readFileSync(OBJ), "smbconn");
    try {
      expect(o.structLayout("aod_event")).toEqual({ size: EVENT_SIZE, offsets: { ...OFF } });
      expect(o.structLayout("conn_tail")).toEqual({
        size: 192,
        offsets: { server: 0, share: 64, addr: 160, _pad: 188 },
      });
      expect(o.structLayout("conn_desc")).toEqual({
        size: 18,
        offsets: {
          conn_id_off: 0,
          sesid_off: 2,
          tid_off: 4,
          rc_off: 6,
          host_off: 8,
          unc_off: 10,
          addr_off: 12,
          host_loc: 14,
          unc_loc: 15,
          kind: 16,
          only_failed: 17,
        },
      });
      expect(
        o
          .programs()
          .map((p) => p.name)
          .sort(),
      ).toEqual(CONN_EVENTS.map((e) => `smbconn_${e.event}`).sort());
    } finally {
      o.close();
    }
  });

  test("loads on smbslower's ring and lost counter (tracepoint programs load before cifs exists)", () => {
    if (needsRoot() || noObject()) return;
    const slower = BpfObject.openMem(readFileSync(SLOWER), "smbslower");
    let conn: BpfObject | undefined;
    try {
      for (const p of slower.programs()) p.setAutoload(p.name.startsWith("smbslower_tp_"));
      slower.map("events").setMaxEntries(1 << 16);
      slower.load();
      conn = BpfObject.openMem(readFileSync(OBJ), "smbconn");
      for (const m of smbconn.sharedMaps!) conn.map(m).reuse(slower.map(m));
      conn.load();
      expect(conn.map("events").maxEntries).toBe(1 << 16);
      conn.map("conn_desc").update(new Uint32Array([0]), connDesc(0, parseFormat(FORMATS.smb3_reconnect!)));
    } finally {
      conn?.close();
      slower.close();
    }
  });
});

describe("smbconn descriptors from format files", () => {
  test("offsets, string kinds (__data_loc, char *) and the kind per event", () => {
    expect(descFields(connDesc(0, parseFormat(FORMATS.smb3_reconnect!)))).toEqual({
      conn_id: 16,
      sesid: 0,
      tid: 0,
      rc: 0,
      host: 24,
      unc: 0,
      addr: 0,
      hostLoc: 1,
      uncLoc: 0,
      kind: 0,
      onlyFailed: 0,
    });
    expect(descFields(connDesc(1, parseFormat(FORMATS.smb3_connect_err!)))).toMatchObject({
      conn_id: 16,
      rc: 152,
      host: 8,
      addr: 24,
      hostLoc: 1,
      kind: 1,
    });
    expect(descFields(connDesc(2, parseFormat(FORMATS.smb3_ses_expired!)))).toMatchObject({
      sesid: 16,
      tid: 8,
      host: 0,
      kind: 2,
    });
    expect(descFields(connDesc(4, parseFormat(FORMATS.smb3_tcon!)))).toMatchObject({
      sesid: 16,
      tid: 12,
      rc: 28,
      unc: 24,
      uncLoc: 1,
      kind: 4,
      onlyFailed: 1,
    });
    // Older kernels: the host name as a char * (8 bytes).
    const old = COMMON + field("__u64 currmid", 8, 8) + field("char * hostname", 16, 8);
    expect(descFields(connDesc(0, parseFormat(old)))).toMatchObject({ conn_id: 0, host: 16, hostLoc: 2 });
  });

  test("the events this kernel has, from tracefs; the rest are named as missing", () => {
    const root = tempDir();
    for (const [event, text] of Object.entries(FORMATS)) {
      mkdirSync(join(root, "events/cifs", event), { recursive: true });
      writeFileSync(join(root, "events/cifs", event, "format"), `name: ${event}\nformat:\n${text}`);
    }
    const h = connHooks(root);
    expect(h.hooks.map((x) => [x.event, x.slot])).toEqual([
      ["smb3_reconnect", 0],
      ["smb3_connect_err", 1],
      ["smb3_ses_expired", 2],
      ["smb3_tcon", 4],
    ]);
    expect(h.missing).toEqual(["smb3_credit_timeout"]);
  });
});

describe("smbconn event lines", () => {
  const tail = (server: string, share: string, addr: number[]) => {
    const t = new Uint8Array(192);
    t.set(new TextEncoder().encode(server), 0);
    t.set(new TextEncoder().encode(share), 64);
    t.set(addr, 160);
    return t;
  };
  const v4 = [2, 0, 0x01, 0xbd, 127, 0, 0, 1]; // AF_INET, port 445 (big endian), 127.0.0.1
  const base = {
    timeNs: 1_764_000_000_000_000_000n,
    latencyNs: 0n,
    sessionId: 0n,
    mid: 3n,
    treeId: 0,
    pid: 99,
    tid: 99,
    rc: -111,
    status: 0,
    command: 1,
    tool: 2,
    flags: 0,
    comm: "cifsd",
  };

  test("a record with its tail: kind, server, address, errno, connection id", () => {
    expect(smbconnKind.toLine({ ...base, tail: tail("127.0.0.1", "", v4) })).toEqual({
      time_ns: base.timeNs,
      tool: "smbconn",
      conn_kind: "connect_failed",
      server: "127.0.0.1",
      address: "127.0.0.1:445",
      errno: "ECONNREFUSED",
      pid: 99,
      comm: "cifsd",
      conn_id: "0x3",
    });
    // A failed tree connect names its share; the server comes from it when the event has no host name.
    const tcon = smbconnKind.toLine({ ...base, command: 4, rc: -13, mid: 0n, tail: tail("", "\\\\srv\\data", []) });
    expect(tcon).toMatchObject({ conn_kind: "tcon_failed", server: "srv", share: "\\\\srv\\data", errno: "EACCES" });
    // An expired session: the share resolved from the session and tree ids (DebugData).
    const ses = smbconnKind.toLine({ ...base, command: 2, rc: 0, sessionId: 5n, treeId: 1, mid: 0n }, "\\\\files\\x");
    expect(ses).toMatchObject({ conn_kind: "session_expired", server: "files", session_id: "0x5", tree_id: "0x1" });
    expect(ses.errno).toBeUndefined();
  });

  test("sockaddr text: IPv4, IPv6, anything else undefined", () => {
    expect(sockaddrText(new Uint8Array([...v4, ...new Array(20).fill(0)]))).toBe("127.0.0.1:445");
    const a6 = new Uint8Array(28);
    a6.set([10, 0, 0x01, 0xbd]);
    a6.set([0xfe, 0x80], 8);
    a6[23] = 1;
    expect(sockaddrText(a6)).toBe("[fe80::1]:445");
    expect(sockaddrText(new Uint8Array(28))).toBeUndefined();
    expect(decodeConnTail(undefined)).toEqual({});
  });

  test("replay reads them back without a command; a bad kind is named", () => {
    const { line, columns, kind } = parseEventLine('{"conn_kind":"reconnect","server":"127.0.0.1"}');
    expect(kind.name).toBe("smbconn");
    expect(line.tool).toBe("smbconn");
    expect(columns).toEqual({ latencyNs: 0, command: 0, rc: -0 });
    expect(parseEventLine('{"tool":"smbconn","conn_kind":"connect_failed","errno":"ECONNREFUSED"}').columns.rc).toBe(
      -111,
    );
    expect(() => parseEventLine('{"tool":"smbconn","conn_kind":"reconect"}')).toThrow(
      /"conn_kind" must be an connection event kind name such as reconnect, found "reconect"/,
    );
    expect(() => parseEventLine('{"server":"x"}')).toThrow(/"conn_kind" \(a smbconn event\)/);
  });
});
