// Loads test/fixtures/countbase.bpf.o (count-only fentry programs on the hooks
// aod's fentry variant uses) and keeps it attached until SIGTERM: the baseline
// of bpf-cost.sh. Writes READY_FILE once attached. Beside it, in the same run:
// test/fixtures/bpfprof.bpf.o (one operation per program on dequeue_mid: what
// each kind of work costs on this kernel) and, when `make bench-vm
// BPF_COST_OLD=<ref>` built it, build/test/oldslower.bpf.o (smbslower as of
// that commit, programs renamed oldslower_*, loaded like aod loads smbslower's
// fentry variant) for a before/after in one run.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BpfObject } from "../../../src/native/libbpf";
import { describeAttachPlan } from "../../../src/tools/attach-plan";
import { thresholdMapValues } from "../../../src/tools/smbslower";

const root = join(import.meta.dir, "../../..");
const plan = describeAttachPlan();
const release = plan.release?.fn;
const objs: BpfObject[] = [];
const notes: string[] = [];

const obj = BpfObject.openMem(readFileSync(join(root, "build/test/countbase.bpf.o")), "countbase");
objs.push(obj);
if (release) obj.program("countbase_release").setAttachTarget(release);
else obj.program("countbase_release").setAutoload(false);
obj.load();
for (const p of ["countbase_alloc", "countbase_done", ...(release ? ["countbase_release"] : [])])
  obj.program(p).attach();

const prof = join(root, "build/test/bpfprof.bpf.o");
if (existsSync(prof)) {
  const o = BpfObject.openMem(readFileSync(prof), "bpfprof");
  objs.push(o);
  try {
    o.load();
    for (const p of o.programs()) p.attach();
    notes.push("profile attached");
  } catch (e) {
    notes.push(`profile not attached: ${(e as Error).message}`);
  }
}

const old = join(root, "build/test/oldslower.bpf.o");
if (existsSync(old)) {
  const o = BpfObject.openMem(readFileSync(old), "oldslower");
  objs.push(o);
  const rel = release ? ["oldslower_release_fentry", "oldslower_release1_fentry"][plan.release!.arg] : undefined;
  const want = ["oldslower_alloc_fentry", "oldslower_done_fentry"];
  for (const p of o.programs()) p.setAutoload(want.includes(p.name) || p.name === rel);
  if (rel) o.program(rel).setAttachTarget(release!);
  o.setRodata({
    alloc_arg_shdr: plan.args.allocShdr,
    alloc_arg_server: plan.args.allocServer,
    done_arg_mid: plan.args.doneMid,
    rel_mode: rel ? plan.release!.mode : 0,
    rel_arg: rel ? plan.release!.arg : 0,
  });
  o.map("events").setMaxEntries(1 << 22);
  o.load();
  // The thresholds bpf-cost.sh's config gives aod (10 s for every command).
  const th = o.map("thresholds");
  thresholdMapValues(new Array(32).fill(10_000)).forEach((v, i) => {
    th.update(new Uint32Array([i]), new BigUint64Array([v]));
  });
  for (const p of [...want, ...(rel ? [rel] : [])]) o.program(p).attach();
  notes.push("old smbslower attached");
}
writeFileSync(
  process.env.READY_FILE ?? "/dev/stdout",
  `attached (release hook ${release ?? "none"}${notes.map((n) => `; ${n}`).join("")})\n`,
);
await new Promise<void>((resolve) => process.on("SIGTERM", () => resolve()));
for (const o of objs) o.close();
