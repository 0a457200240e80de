// Decoding of aod_event records into the event line format, and the name tables.
import { describe, expect, test } from "bun:test";
import { errnoName, errnoNumber } from "../../src/format/errno-names";
import { ClockOffset, EVENT_SIZE, EventBatch, eventLineJson, OFF } from "../../src/format/event";
import { ntStatusName } from "../../src/format/nt-status";
import { smb2CommandId, smb2CommandName } from "../../src/format/smb2-commands";
import { toEventLine } from "../../src/tools/registry";

function record(f: {
  time: bigint;
  lat: bigint;
  ses: bigint;
  mid: bigint;
  tree: number;
  pid: number;
  tid: number;
  rc: number;
  status: number;
  cmd: number;
  tool: number;
  flags: number;
  comm: string;
}) {
  const b = new Uint8Array(EVENT_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(OFF.time_ns, f.time, true);
  v.setBigUint64(OFF.latency_ns, f.lat, true);
  v.setBigUint64(OFF.session_id, f.ses, true);
  v.setBigUint64(OFF.mid, f.mid, true);
  v.setUint32(OFF.tree_id, f.tree, true);
  v.setUint32(OFF.pid, f.pid, true);
  v.setUint32(OFF.tid, f.tid, true);
  v.setInt32(OFF.rc, f.rc, true);
  v.setUint32(OFF.status, f.status, true);
  v.setUint16(OFF.command, f.cmd, true);
  v.setUint8(OFF.tool, f.tool);
  v.setUint8(OFF.flags, f.flags);
  b.set(new TextEncoder().encode(f.comm), OFF.comm);
  return b;
}

describe("decoding", () => {
  const base = {
    time: 5_000_000_000n,
    ses: 0x6f5ad9adn,
    mid: 42n,
    tree: 5,
    pid: 1234,
    tid: 1235,
    flags: 0,
    comm: "dd",
  };
  const clock = new ClockOffset(1_700_000_000_000_000_000n);

  test("a latency event → event line", () => {
    const raw = record({ ...base, lat: 52_310_500n, rc: 0, status: 0, cmd: smb2CommandId("SMB2_WRITE")!, tool: 0 });
    const b = new EventBatch(4);
    b.push(new DataView(raw.buffer), raw, 0);
    expect(b.count).toBe(1);
    expect(b.command[0]).toBe(9);
    expect(b.latencyNs[0]).toBe(52_310_500);
    const e = b.decode(0, clock);
    expect(e.timeNs).toBe(1_700_000_005_000_000_000n);
    expect(e.comm).toBe("dd");
    const line = toEventLine(e, "\\\\srv\\share");
    expect(line).toEqual({
      time_ns: 1_700_000_005_000_000_000n,
      tool: "smbslower",
      command: "SMB2_WRITE",
      latency_ms: 52.3105,
      pid: 1234,
      comm: "dd",
      session_id: "0x6f5ad9ad",
      tree_id: "0x5",
      mid: 42n,
      share: "\\\\srv\\share",
    });
    // Epoch ns stays an exact JSON integer.
    expect(eventLineJson(line)).toBe(
      '{"time_ns":1700000005000000000,"tool":"smbslower","command":"SMB2_WRITE","latency_ms":52.3105,"pid":1234,"comm":"dd","session_id":"0x6f5ad9ad","tree_id":"0x5","mid":42,"share":"\\\\\\\\srv\\\\share"}',
    );
  });

  test("an error event → errno and NT status names", () => {
    const raw = record({
      ...base,
      lat: 0n,
      rc: -13,
      status: 0xc0000022,
      cmd: smb2CommandId("SMB2_CREATE")!,
      tool: 1,
      flags: 2,
      comm: "cat",
    });
    const b = new EventBatch(1);
    b.push(new DataView(raw.buffer), raw, 0);
    const line = toEventLine(b.decode(0, clock));
    expect(line.tool).toBe("smbiosnoop");
    expect(line.errno).toBe("EACCES");
    expect(line.status).toBe("STATUS_ACCESS_DENIED");
    expect(line.latency_ms).toBeUndefined(); // issuer not correlated: latency unknown
  });

  test("a full comm (16 bytes, no NUL) and unknown command ids", () => {
    const raw = record({ ...base, lat: 1n, rc: 0, status: 0, cmd: 0x33, tool: 0, comm: "abcdefghijklmnop" });
    const b = new EventBatch(1);
    b.push(new DataView(raw.buffer), raw, 0);
    const e = b.decode(0, clock);
    expect(e.comm).toBe("abcdefghijklmnop");
    expect(toEventLine(e).command).toBe("SMB2_0x33");
  });
});

describe("name tables", () => {
  test("errno names", () => {
    expect(errnoName(-13)).toBe("EACCES");
    expect(errnoName(5)).toBe("EIO");
    expect(errnoName(-512)).toBe("ERESTARTSYS");
    expect(errnoName(999)).toBe("E999");
    expect(errnoNumber("ENOSPC")).toBe(28);
    expect(errnoNumber("EWOULDBLOCK")).toBe(11);
  });
  test("NT status names", () => {
    expect(ntStatusName(0)).toBe("STATUS_SUCCESS");
    expect(ntStatusName(0xc0000022)).toBe("STATUS_ACCESS_DENIED");
    expect(ntStatusName(0xc0000034)).toBe("STATUS_OBJECT_NAME_NOT_FOUND");
    expect(ntStatusName(0xc0001234)).toBe("0xc0001234");
  });
  test("SMB2 command names", () => {
    expect(smb2CommandName(0)).toBe("SMB2_NEGOTIATE");
    expect(smb2CommandName(19)).toBe("SMB2_SERVER_TO_CLIENT_NOTIFICATION");
    expect(smb2CommandId("SMB2_QUERY_INFO")).toBe(16);
  });
});
