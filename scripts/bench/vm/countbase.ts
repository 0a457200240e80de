// Loads test/fixtures/countbase.bpf.o (count-only fentry programs on the hooks
// aod's fentry variant uses) and keeps it attached until SIGTERM: the baseline
// of bpf-cost.sh. Writes READY_FILE once attached.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BpfObject } from "../../../src/native/libbpf";
import { describeAttachPlan } from "../../../src/tools/attach-plan";

const root = join(import.meta.dir, "../../..");
const obj = BpfObject.openMem(readFileSync(join(root, "build/test/countbase.bpf.o")), "countbase");
const release = describeAttachPlan().release?.fn;
if (release) obj.program("countbase_release").setAttachTarget(release);
else obj.program("countbase_release").setAutoload(false);
obj.load();
for (const p of ["countbase_alloc", "countbase_done", ...(release ? ["countbase_release"] : [])])
  obj.program(p).attach();
writeFileSync(process.env.READY_FILE ?? "/dev/stdout", `attached (release hook ${release ?? "none"})\n`);
await new Promise<void>((resolve) => process.on("SIGTERM", () => resolve()));
obj.close();
