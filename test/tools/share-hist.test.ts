// Per-share latency histograms (metrics): the objects load with share_hist_on
// (the verifier takes the atomic adds on the LRU map's values), and entries
// are read back summed per (command, share). The programs themselves run in
// the VM scenarios (no cifs or nfs module here).
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NFS_PROCEDURE_TABLE } from "../../src/format/nfs-procedures";
import { BpfObject } from "../../src/native/libbpf";
import { HIST_SLOTS, readShareHistograms } from "../../src/tools/hist";
import { PROGRAMS } from "../../src/tools/smbslower";
import { needsRoot, ROOT, skipReason } from "../helpers";

const obj = (name: string) => join(ROOT, `build/bpf/${name}.bpf.o`);
const noObjects = () =>
  skipReason({
    "build/bpf objects missing (make build)": !existsSync(obj("smbslower")) || !existsSync(obj("nfsslower")),
  });

const slots = (pairs: Record<number, number>) => {
  const v = new BigUint64Array(HIST_SLOTS);
  for (const [i, n] of Object.entries(pairs)) v[Number(i)] = BigInt(n);
  return v;
};

describe("per-share histograms", () => {
  test("nfsslower: loads with share_hist_on; entries of two clients of one export are summed", () => {
    if (needsRoot() || noObjects()) return;
    const o = BpfObject.openMem(readFileSync(obj("nfsslower")), "nfsslower");
    try {
      o.setRodata({ share_hist_on: true });
      o.map("events").setMaxEntries(1 << 16);
      o.load();
      const m = o.map("share_hist");
      const write = NFS_PROCEDURE_TABLE.id("v3:WRITE")!;
      const key = (client: number, command: number) => {
        const k = new Uint8Array(8);
        const v = new DataView(k.buffer);
        v.setUint32(0, client, true);
        v.setUint16(4, command, true);
        return k;
      };
      m.update(key(4, write), slots({ 10: 3, 11: 1 }));
      m.update(key(8, write), slots({ 10: 2 }));
      m.update(key(4, NFS_PROCEDURE_TABLE.id("v3:GETATTR")!), slots({ 3: 7 }));
      const label = (k: DataView) => ({
        command: NFS_PROCEDURE_TABLE.name(k.getUint16(4, true)),
        share: "127.0.0.1:/srv/nfs/data", // both clients: one export
      });
      const hs = readShareHistograms(m, 8, "nfs", label).sort((a, b) => a.command.localeCompare(b.command));
      expect(hs.map((h) => [h.protocol, h.command, h.share])).toEqual([
        ["nfs", "v3:GETATTR", "127.0.0.1:/srv/nfs/data"],
        ["nfs", "v3:WRITE", "127.0.0.1:/srv/nfs/data"],
      ]);
      expect(hs[1]!.counts[10]).toBe(5);
      // The batch read (BPF_MAP_LOOKUP_BATCH) and the key-by-key one agree.
      const batch = m.entries(8, HIST_SLOTS * 8);
      expect(batch?.count, "batch lookup works on this kernel's LRU hash").toBe(3);
      expect(m.keys(8)).toHaveLength(3);
      expect(hs[1]!.counts[11]).toBe(1);
      expect(hs[0]!.counts[3]).toBe(7);
    } finally {
      o.close();
    }
  });

  test("smbslower: loads with share_hist_on (each hook variant's programs pass the verifier)", () => {
    if (needsRoot() || noObjects()) return;
    // fentry/kprobe programs need cifs to load; the tracepoint ones load anywhere.
    const o = BpfObject.openMem(readFileSync(obj("smbslower")), "smbslower");
    try {
      const want = new Set(PROGRAMS.tracepoint);
      for (const p of o.programs()) p.setAutoload(want.has(p.name));
      o.setRodata({ share_hist_on: true });
      o.map("events").setMaxEntries(1 << 16);
      o.load();
      const k = new Uint8Array(16);
      const v = new DataView(k.buffer);
      v.setBigUint64(0, 0x1234n, true);
      v.setUint32(8, 5, true);
      v.setUint16(12, 9, true); // SMB2_WRITE
      o.map("share_hist").update(k, slots({ 12: 4 }));
      const hs = readShareHistograms(o.map("share_hist"), 16, "smb", (key) => ({
        command: `cmd${key.getUint16(12, true)}`,
        share: key.getUint32(8, true) === 5 ? "\\\\srv\\share" : "?",
      }));
      expect(hs).toEqual([
        { protocol: "smb", command: "cmd9", share: "\\\\srv\\share", counts: Array.from(slots({ 12: 4 }), Number) },
      ]);
    } finally {
      o.close();
    }
  });
});
