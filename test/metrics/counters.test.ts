// Error and connection events counted from batches as they arrive (latency
// records skipped), anomalies and bundles; the load generator's histograms
// counted in user space.
import { describe, expect, test } from "bun:test";
import { EVENT_SIZE, EventBatch, OFF } from "../../src/format/event";
import { NFS_ERROR_OP_TABLE } from "../../src/format/nfs-procedures";
import { smb2CommandId } from "../../src/format/smb2-commands";
import { log2Slot, withCountedHistograms } from "../../src/metrics/counted-histograms";
import { EventCounters, MAX_COUNTER_SERIES } from "../../src/metrics/counters";
import { toolKindId } from "../../src/tools/registry";
import { CONN_KIND_TABLE } from "../../src/tools/smbconn";
import type { EventSource } from "../../src/tools/source";

interface Rec {
  tool: string;
  command: number;
  rc?: number;
  status?: number;
  latencyNs?: number;
  /** smbconn's tail: server name. */
  server?: string;
}

function batch(recs: Rec[]): EventBatch {
  const b = new EventBatch(recs.length);
  for (const r of recs) {
    const tail = r.server !== undefined ? 188 : 0;
    const bytes = new Uint8Array(EVENT_SIZE + tail);
    const v = new DataView(bytes.buffer);
    v.setUint32(OFF.latency_ns, r.latencyNs ?? 0, true);
    v.setInt32(OFF.rc, r.rc ?? 0, true);
    v.setUint32(OFF.status, r.status ?? 0, true);
    v.setUint16(OFF.command, r.command, true);
    v.setUint8(OFF.tool, toolKindId(r.tool));
    if (r.server !== undefined) {
      bytes.set(new TextEncoder().encode(r.server), EVENT_SIZE);
      b.pushWithTail(v, bytes, 0, bytes.length);
    } else b.push(v, bytes, 0);
  }
  return b;
}

const values = (c: EventCounters, family: string) => Object.fromEntries(c.families.get(family)?.values ?? []);

describe("event counters", () => {
  test("errors by command, errno and status; connection events by kind and server; latency records skipped", () => {
    const c = new EventCounters();
    const read = smb2CommandId("SMB2_READ")!;
    c.observe(
      batch([
        { tool: "smbslower", command: read, latencyNs: 5e6 },
        { tool: "smbiosnoop", command: read, rc: -13, status: 0xc0000022 },
        { tool: "smbiosnoop", command: read, rc: -13, status: 0xc0000022 },
        { tool: "smbiosnoop", command: smb2CommandId("SMB2_NEGOTIATE")!, rc: -111 },
        { tool: "smbconn", command: CONN_KIND_TABLE.id("reconnect")!, server: "fs1.example" },
        { tool: "nfserr", command: NFS_ERROR_OP_TABLE.id("v3:WRITE")!, rc: -30, status: 30 },
        { tool: "nfsslower", command: 7, latencyNs: 5e6 },
      ]),
    );
    expect(values(c, "aod_smb_command_errors")).toEqual({
      'command="SMB2_READ",errno="EACCES",status="STATUS_ACCESS_DENIED"': 2,
      'command="SMB2_NEGOTIATE",errno="ECONNREFUSED",status=""': 1,
    });
    expect(values(c, "aod_smb_connection_events")).toEqual({ 'kind="reconnect",server="fs1.example"': 1 });
    expect(values(c, "aod_nfs_rpc_errors")).toEqual({
      'procedure="v3:WRITE",errno="EROFS",status="NFS3ERR_ROFS"': 1,
    });
  });

  test("the label sets of a family are bounded; more are counted under other", () => {
    const c = new EventCounters();
    const recs: Rec[] = [];
    for (let i = 0; i < MAX_COUNTER_SERIES + 5; i++) recs.push({ tool: "smbconn", command: 0, server: `s${i}` });
    c.observe(batch(recs));
    const v = c.families.get("aod_smb_connection_events")!.values;
    expect(v.size).toBe(MAX_COUNTER_SERIES + 1);
    expect(v.get('kind="other",server="other"')).toBe(5);
  });

  test("anomalies by name and type from 0 (snapshots are not anomalies); bundles and bytes", () => {
    const c = new EventCounters([
      { name: "slow", type: "latency" },
      { name: "errs", type: "error" },
    ]);
    c.anomaly({ name: "slow", type: "latency" } as never);
    c.anomaly({ name: "snapshot", type: "snapshot" } as never);
    c.bundle(10);
    c.bundle(32);
    expect(Object.fromEntries(c.anomalies)).toEqual({
      'anomaly="slow",type="latency"': 1,
      'anomaly="errs",type="error"': 0,
    });
    expect([c.bundles, c.bundleBytes]).toEqual([2, 42]);
  });
});

describe("histograms counted in user space (the load generator)", () => {
  test("log2 buckets of us as the kernel's", () => {
    expect([0, 999, 1000, 1999, 2000, 3999, 4000, 100e6, 1e15].map(log2Slot)).toEqual([0, 0, 0, 0, 1, 1, 2, 16, 31]);
  });
  test("latency events per command; error events not counted", async () => {
    let deliver: (b: EventBatch) => void = () => {};
    const inner: EventSource = {
      name: "loadgen",
      clock: undefined as never,
      start: async (f) => {
        deliver = f;
      },
      lost: () => ({}),
      status: () => "ok",
      close: async () => {},
    };
    const s = withCountedHistograms(inner);
    const seen: number[] = [];
    await s.start((b) => seen.push(b.count));
    const read = smb2CommandId("SMB2_READ")!;
    deliver(
      batch([
        { tool: "smbslower", command: read, latencyNs: 100e6 },
        { tool: "smbslower", command: read, latencyNs: 100e6 },
        { tool: "smbslower", command: read, latencyNs: 3e3 },
        { tool: "smbiosnoop", command: read, rc: -13 },
      ]),
    );
    expect(seen).toEqual([4]);
    const [h] = s.histograms!();
    expect(h).toMatchObject({ command: "SMB2_READ", id: read, count: 3 });
    expect(h!.counts[16]).toBe(2);
    expect(h!.counts[1]).toBe(1);
  });
});
