// The decoder (src/tools/event.ts) and the BPF programs agree on struct
// aod_event: offsets and size as recorded in the compiled object's BTF.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EVENT_SIZE, OFF } from "../../src/format/event";
import { BpfObject } from "../../src/native/libbpf";
import { ROOT, skipReason } from "../helpers";

for (const tool of ["smbslower", "smberr", "nfsslower", "nfserr"]) {
  const obj = join(ROOT, `build/bpf/${tool}.bpf.o`);
  describe(`struct aod_event in ${tool}.bpf.o`, () => {
    test("decoder offsets and size match the BTF layout", () => {
      if (skipReason({ [`build/bpf/${tool}.bpf.o missing (make build)`]: !existsSync(obj) })) return;
      const o = BpfObject.openMem(readFileSync(obj), tool);
      try {
        const layout = o.structLayout("aod_event");
        expect(layout).toBeDefined();
        expect(layout!.size).toBe(EVENT_SIZE);
        expect(layout!.offsets).toEqual({ ...OFF });
      } finally {
        o.close();
      }
    });
  });
}
