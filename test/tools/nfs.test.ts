// The NFS tools on this host (no nfs module here: the VM scenario 09-nfs
// runs them on a real client): their objects load (tracepoint programs load
// before the tracepoints exist), the procedure map and rodata user space
// fills from the events' format files, the event lines, replay of them, and
// how an event's mount is named from the RPC client's server address.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseEventLine } from "../../src/daemon/event-lines";
import type { DecodedEvent } from "../../src/format/event";
import { NFS_ERROR_OP_TABLE, NFS_PROCEDURE_TABLE, nfs4OperationId } from "../../src/format/nfs-procedures";
import { candidateMounts, describeWhere, NfsClientResolver, rpcClientServer } from "../../src/host/nfs-clients";
import { nfsMounts } from "../../src/host/nfs-mounts";
import { parseFormat } from "../../src/host/tracefs";
import { BpfObject } from "../../src/native/libbpf";
import { parseConfigText } from "../../src/registry";
import { fieldOffsets } from "../../src/tools/nfs-plan";
import { nfserr, nfserrKind } from "../../src/tools/nfserr";
import { fillProcs, nfsslower, nfsslowerKind, nfsThresholds } from "../../src/tools/nfsslower";
import { UNTRACKED } from "../../src/tools/smbslower";
import { needsRoot, ROOT, skipReason, tempDir } from "../helpers";

const SLOWER = join(ROOT, "build/bpf/nfsslower.bpf.o");
const ERR = join(ROOT, "build/bpf/nfserr.bpf.o");
const noObjects = () => skipReason({ "build/bpf/nfs*.bpf.o missing (make build)": ![SLOWER, ERR].every(existsSync) });

const field = (decl: string, offset: number, size: number) =>
  `\tfield:${decl};\toffset:${offset};\tsize:${size};\tsigned:0;\n`;
// As Debian's 6.1 kernel prints them (6.12: the same, plus xprt_id at 56).
const LATENCY = parseFormat(
  field("unsigned short common_type", 0, 2) +
    field("unsigned int task_id", 8, 4) +
    field("unsigned int client_id", 12, 4) +
    field("u32 xid", 16, 4) +
    field("int version", 20, 4) +
    field("__data_loc char[] progname", 24, 4) +
    field("__data_loc char[] procname", 28, 4) +
    field("unsigned long backlog", 32, 8) +
    field("unsigned long rtt", 40, 8) +
    field("unsigned long execute", 48, 8),
);

const event = (over: Partial<DecodedEvent>): DecodedEvent => ({
  timeNs: 1_700_000_000_000_000_000n,
  latencyNs: 0n,
  sessionId: 0n,
  mid: 0x815b6456n,
  treeId: 4,
  pid: 486,
  tid: 486,
  rc: 0,
  status: 0,
  command: 0,
  tool: 3,
  flags: 0,
  comm: "dd",
  ...over,
});

describe("NFS name tables", () => {
  test("an unqualified procedure selects every version's; a qualified one its own", () => {
    const t = NFS_PROCEDURE_TABLE;
    expect(t.ids("WRITE")!.map((i) => t.name(i))).toEqual(["v3:WRITE", "v4:WRITE"]);
    expect(t.ids("v4:WRITE")!.map((i) => t.name(i))).toEqual(["v4:WRITE"]);
    expect(t.ids("OPEN")!.map((i) => t.name(i))).toEqual(["v4:OPEN"]);
    expect(t.ids("READDIRPLUS")!.map((i) => t.name(i))).toEqual(["v3:READDIRPLUS"]);
    expect(t.ids("WRTIE")).toBeUndefined();
    expect(t.names.length).toBeLessThanOrEqual(128); // NFS_COMMANDS in bpf/nfs_shared.bpf.h
    expect(NFS_ERROR_OP_TABLE.names.length).toBeLessThanOrEqual(128);
  });

  test("v3 ids are the same in both tables (nfserr shares nfsslower's procedure map)", () => {
    for (let i = 0; i < 23; i++) expect(NFS_ERROR_OP_TABLE.name(i)).toBe(NFS_PROCEDURE_TABLE.name(i));
  });

  test("v4 operation numbers map to operation names; unknown ones to v4:OTHER", () => {
    expect(NFS_ERROR_OP_TABLE.name(nfs4OperationId(18))).toBe("v4:OPEN");
    expect(NFS_ERROR_OP_TABLE.name(nfs4OperationId(15))).toBe("v4:LOOKUP");
    expect(NFS_ERROR_OP_TABLE.name(nfs4OperationId(38))).toBe("v4:WRITE");
    expect(NFS_ERROR_OP_TABLE.name(nfs4OperationId(0))).toBe("v4:OTHER");
    expect(NFS_ERROR_OP_TABLE.name(nfs4OperationId(200))).toBe("v4:OTHER");
  });
});

describe("NFS objects", () => {
  test("rodata offsets from the format file; a missing or resized field is named", () => {
    const offs = fieldOffsets(LATENCY!, { client_id: [4], execute: [8], procname: [4] }, "off_", "sunrpc:x");
    expect(offs).toEqual({ off_client_id: 12, off_execute: 48, off_procname: 28 });
    expect(() => fieldOffsets(LATENCY!, { rtt: [4] }, "off_", "sunrpc:x")).toThrow("field rtt has size 8");
    expect(() => fieldOffsets(LATENCY!, { nope: [4] }, "off_", "sunrpc:x")).toThrow("field nope is missing");
  });

  test("thresholds: ns per tracked id, UNTRACKED elsewhere, restricted by --command", () => {
    const th = new Array(NFS_PROCEDURE_TABLE.names.length).fill(null);
    th[7] = 20;
    th[30] = 0;
    const v = nfsThresholds(th);
    expect(v[7]).toBe(20_000_000n);
    expect(v[30]).toBe(0n);
    expect(v[8]).toBe(UNTRACKED);
    expect(nfsThresholds(th, [30])[7]).toBe(UNTRACKED);
  });

  test("nfsslower loads as ring owner, nfserr on its maps; procs answers (version, name)", () => {
    if (needsRoot() || noObjects()) return;
    const slower = BpfObject.openMem(readFileSync(SLOWER), "nfsslower");
    const err = BpfObject.openMem(readFileSync(ERR), "nfserr");
    try {
      slower.map("events").setMaxEntries(1 << 16);
      slower.load();
      fillProcs(slower.map("procs"), NFS_PROCEDURE_TABLE);
      for (const m of nfserr.sharedMaps!) err.map(m).reuse(slower.map(m));
      err.load();
      const key = (version: number, name: string) => {
        const k = new Uint8Array(32);
        new DataView(k.buffer).setUint32(0, version, true);
        k.set(new TextEncoder().encode(name), 4);
        return k;
      };
      const id = new Uint16Array(1);
      expect(err.map("procs").lookup(key(4, "WRITE"), id)).toBe(true); // nfserr sees nfsslower's map
      expect(NFS_PROCEDURE_TABLE.name(id[0]!)).toBe("v4:WRITE");
      expect(slower.map("procs").lookup(key(3, "LOOKUP"), id)).toBe(true);
      expect(NFS_PROCEDURE_TABLE.name(id[0]!)).toBe("v3:LOOKUP");
      expect(slower.map("procs").lookup(key(3, ""), id)).toBe(true);
      expect(NFS_PROCEDURE_TABLE.name(id[0]!)).toBe("v3:OTHER");
      expect(slower.map("procs").lookup(key(2, "LOOKUP"), id)).toBe(false); // v2 is not traced
      expect(nfsslower.ring).toBe("events");
    } finally {
      err.close();
      slower.close();
    }
  });
});

describe("NFS event lines", () => {
  test("nfsslower: procedure and version, latency split into rtt and queue, client and xid", () => {
    const e = event({
      command: NFS_PROCEDURE_TABLE.id("v3:WRITE")!,
      latencyNs: 6_505_000n,
      sessionId: (5866n << 32n) | 406n,
    });
    const l = nfsslowerKind.toLine(e);
    expect(l).toMatchObject({
      tool: "nfsslower",
      proto: "nfs",
      command: "WRITE",
      nfs_version: 3,
      latency_ms: 6.505,
      rtt_ms: 5.866,
      backlog_ms: 0.406,
      pid: 486,
      comm: "dd",
      client_id: 4,
      xid: "0x815b6456",
    });
    // Replay reads it back to the same columns.
    const { columns, kind } = parseEventLine(JSON.stringify({ ...l, time_ns: 1 }));
    expect(kind.name).toBe("nfsslower");
    expect(columns).toEqual({ latencyNs: 6_505_000, command: e.command, rc: 0 });
  });

  test("nfserr: v3 with its NFS status, v4 with its operation; replay checks the fields", () => {
    const v3 = nfserrKind.toLine(event({ tool: 4, command: NFS_ERROR_OP_TABLE.id("v3:CREATE")!, rc: -30, status: 30 }));
    expect(v3).toMatchObject({
      tool: "nfserr",
      command: "CREATE",
      nfs_version: 3,
      errno: "EROFS",
      nfs_status: "NFS3ERR_ROFS",
    });
    const v4 = nfserrKind.toLine(event({ tool: 4, command: nfs4OperationId(18), rc: -528, status: 10008 }));
    expect(v4).toMatchObject({
      tool: "nfserr",
      command: "OPEN",
      nfs_version: 4,
      errno: "EJUKEBOX",
      nfs_status: "NFS4ERR_DELAY",
    });
    expect(nfserrKind.toLine(event({ tool: 4, command: 3, rc: -528, status: 10008 })).nfs_status).toBe(
      "NFS3ERR_JUKEBOX",
    );
    expect(nfserrKind.summaryKey!(v3)).toBe("v3:CREATE EROFS NFS3ERR_ROFS");
    const back = parseEventLine(JSON.stringify({ ...v3, time_ns: 1 }));
    expect(back.columns).toEqual({ latencyNs: 0, command: NFS_ERROR_OP_TABLE.id("v3:CREATE")!, rc: -30, status: 30 });
    expect(parseEventLine('{"tool":"nfsiosnoop","command":"OPEN","nfs_version":4,"errno":"EACCES"}').kind.name).toBe(
      "nfserr",
    );
    expect(() => parseEventLine('{"tool":"nfserr","command":"OPEN","nfs_version":5,"errno":"EACCES"}')).toThrow(
      '"nfs_version" must be 3 or 4',
    );
    expect(() =>
      parseEventLine('{"tool":"nfserr","command":"OPEN","nfs_version":4,"errno":"EACCES","nfs_status":"X"}'),
    ).toThrow('"nfs_status" must be an NFS status name');
  });
});

describe("config", () => {
  test("NFS and SMB anomalies in one config; NFS procedure names, qualified or not", () => {
    const c = parseConfigText(
      `
guardian:
  anomalies:
    smb: { type: Latency, tool: smbslower, acceptable_count: 1 }
    nfs:
      type: Latency
      tool: nfsslower
      mode: trackonly
      acceptable_count: 1
      track_commands: [{ command: WRITE, threshold: 50 }, { command: v4:OPEN, threshold: 10 }]
    nfserrors: { type: Error, tool: nfsiosnoop, mode: trackonly, track_codes: [EROFS], track_commands: [CREATE, v4:OPEN] }
`,
      "test.yaml",
    );
    const nfs = c.rules.find((r) => r.name === "nfs") as unknown as { thresholdsMs: (number | null)[] };
    const set = nfs.thresholdsMs.flatMap((t, i) => (t === null ? [] : [`${NFS_PROCEDURE_TABLE.name(i)}=${t}`]));
    expect(set).toEqual(["v3:WRITE=50", "v4:WRITE=50", "v4:OPEN=10"]);
    const errRule = c.rules.find((r) => r.name === "nfserrors") as unknown as {
      tool: string;
      commands: { track: number[] };
    };
    expect(errRule.tool).toBe("nfserr");
    expect(errRule.commands.track.map((i) => NFS_ERROR_OP_TABLE.name(i))).toEqual([
      "v3:CREATE",
      "v4:CREATE",
      "v4:OPEN",
    ]);
  });

  test("a misspelt procedure is named with a suggestion; a tool of the other type is refused", () => {
    const config = (a: string) => () => parseConfigText(`guardian:\n  anomalies:\n    nfs: ${a}\n`, "test.yaml");
    expect(config("{ type: Latency, tool: nfsslower, mode: trackonly, track_commands: [{ command: WRTIE }] }")).toThrow(
      'unknown NFS procedure "WRTIE" — did you mean WRITE?',
    );
    expect(config("{ type: Latency, tool: nfserr }")).toThrow('use "smbslower" or "nfsslower"');
  });
});

describe("which mount an NFS event is about", () => {
  const MOUNTINFO = [
    "40 1 0:50 / /mnt/nfs3 rw,relatime - nfs 127.0.0.1:/srv/nfs/data rw,vers=3,proto=tcp,addr=127.0.0.1",
    "41 1 0:51 / /mnt/nfs4 rw,relatime - nfs4 127.0.0.1:/data rw,vers=4.1,proto=tcp,clientaddr=127.0.0.1,addr=127.0.0.1",
    "42 40 0:52 / /mnt/nfs3/ro rw,relatime - nfs 127.0.0.1:/srv/nfs/data/ro rw,vers=3,proto=tcp,addr=127.0.0.1",
    "43 1 0:53 / /mnt/other rw,relatime - nfs 10.0.0.5:/vol rw,vers=3,proto=tcp,addr=10.0.0.5",
  ].join("\n");

  test("the export when one mount of that server and version is left, else every candidate", () => {
    const mounts = nfsMounts(MOUNTINFO);
    expect(describeWhere("127.0.0.1", candidateMounts(mounts, "127.0.0.1", 4))).toEqual({
      server: "127.0.0.1",
      share: "127.0.0.1:/data",
    });
    expect(describeWhere("127.0.0.1", candidateMounts(mounts, "127.0.0.1", 3))).toEqual({
      server: "127.0.0.1",
      candidates: ["127.0.0.1:/srv/nfs/data on /mnt/nfs3", "127.0.0.1:/srv/nfs/data/ro on /mnt/nfs3/ro"],
    });
    expect(describeWhere("10.0.0.5", candidateMounts(mounts, "10.0.0.5", 3))).toEqual({
      server: "10.0.0.5",
      share: "10.0.0.5:/vol",
    });
    // No server address (no debugfs): only the version narrows.
    expect(describeWhere(undefined, candidateMounts(mounts, undefined, 3)).candidates).toHaveLength(3);
  });

  test("the client's server from debugfs rpc_clnt/<id>/xprt/info; a gone client is unknown", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "rpc_clnt/a/xprt"), { recursive: true });
    writeFileSync(join(dir, "rpc_clnt/a/xprt/info"), "netid: tcp\naddr:  127.0.0.1\nport:  2049\nstate: 0x12\n");
    writeFileSync(join(dir, "mountinfo"), MOUNTINFO);
    expect(rpcClientServer(10, join(dir, "rpc_clnt"))).toEqual({ addr: "127.0.0.1", port: 2049 });
    expect(rpcClientServer(5, join(dir, "rpc_clnt"))).toBeUndefined();
    const r = new NfsClientResolver({ rpcClnt: join(dir, "rpc_clnt"), mountinfo: join(dir, "mountinfo") });
    expect(r.resolve(10, 4)).toEqual({ server: "127.0.0.1", share: "127.0.0.1:/data" });
    expect(r.resolve(9, 4).server).toBeUndefined();
  });
});
