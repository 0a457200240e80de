// Config reload refills the loaded tools' maps in place (src/tools/tool-source.ts
// reconfigure): thresholds, tracked errnos and connection kinds change without
// detaching, and what the old filter set is cleared.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SMB2_COMMAND_COUNT } from "../../src/format/smb2-commands";
import { BpfObject } from "../../src/native/libbpf";
import { smbconn } from "../../src/tools/smbconn";
import { smberr } from "../../src/tools/smberr";
import { PROGRAMS, smbslower, UNTRACKED } from "../../src/tools/smbslower";
import { needsRoot, ROOT, skipReason } from "../helpers";

const obj = (name: string) => join(ROOT, `build/bpf/${name}.bpf.o`);
const noObjects = () =>
  skipReason({
    "build/bpf objects missing (make build)": !["smbslower", "smberr", "smbconn"].every((n) => existsSync(obj(n))),
  });

describe("refill on config reload", () => {
  test("smbslower thresholds, smberr errnos and smbconn kinds are replaced in the loaded maps", () => {
    if (needsRoot() || noObjects()) return;
    const slower = BpfObject.openMem(readFileSync(obj("smbslower")), "smbslower");
    const err = BpfObject.openMem(readFileSync(obj("smberr")), "smberr");
    const conn = BpfObject.openMem(readFileSync(obj("smbconn")), "smbconn");
    try {
      const want = new Set(PROGRAMS.tracepoint);
      for (const p of slower.programs()) p.setAutoload(want.has(p.name));
      slower.map("events").setMaxEntries(1 << 16);
      slower.load();
      for (const p of err.programs()) p.setAutoload(p.name === "smberr_cmd_err");
      for (const m of smberr.sharedMaps!) err.map(m).reuse(slower.map(m));
      err.load();
      for (const m of smbconn.sharedMaps!) conn.map(m).reuse(slower.map(m));
      conn.load();

      const th = (i: number) => {
        const v = new BigUint64Array(1);
        slower.map("thresholds").lookup(new Uint32Array([i]), v);
        return v[0];
      };
      const ms = (t: Record<number, number>) =>
        Array.from({ length: SMB2_COMMAND_COUNT }, (_, i) => (i in t ? t[i]! : null));
      smbslower.refill!(slower, { thresholdsMs: ms({ 8: 50, 9: 20 }) }, {});
      expect([th(8), th(9), th(5)]).toEqual([50_000_000n, 20_000_000n, UNTRACKED]);
      smbslower.refill!(slower, { thresholdsMs: ms({ 5: 10 }) }, {});
      expect([th(8), th(9), th(5)]).toEqual([UNTRACKED, UNTRACKED, 10_000_000n]);

      const tracked = (e: number) => {
        const v = new Uint8Array(1);
        err.map("errnos").lookup(new Uint32Array([e]), v);
        return v[0];
      };
      smberr.refill!(err, { errnos: [5, 13] }, {});
      expect([tracked(5), tracked(13), tracked(28)]).toEqual([1, 1, 0]);
      smberr.refill!(err, { errnos: [28] }, {});
      expect([tracked(5), tracked(13), tracked(28)]).toEqual([0, 0, 1]);

      smbconn.refill!(conn, { kinds: [0, 2] }, {});
      const mask = new Uint32Array(1);
      conn.map("kind_mask").lookup(new Uint32Array([0]), mask);
      expect(mask[0]).toBe(0b101);
    } finally {
      conn.close();
      err.close();
      slower.close();
    }
  });
});
