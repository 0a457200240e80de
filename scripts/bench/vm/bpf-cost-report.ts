// Reads bpf-cost.sh's results (bpftool before/after, the kernel's command
// count) and prints aod's BPF time per SMB command, per program and in total,
// beside the count-only baseline on the same hooks; with BPF_COST_OLD, the
// older smbslower measured in the same run (oldslower_*); and the per-operation
// profile (prof_*, each minus prof_empty).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Prog {
  id: number;
  name?: string;
  run_time_ns?: number;
  run_cnt?: number;
}
const dir = process.argv[2] ?? ".cache/vm/results/bench/bpf-cost";
const read = (f: string) => readFileSync(join(dir, f), "utf8");
const before = new Map((JSON.parse(read("progs-before.json")) as Prog[]).map((p) => [p.id, p]));
const after = JSON.parse(read("progs-after.json")) as Prog[];
const commands = Number(read("smbs-after")) - Number(read("smbs-before"));

const rows = after
  .filter((p) => /^(smbslower|smberr|smbconn|countbase|oldslower|prof_)/.test(p.name ?? ""))
  .map((p) => {
    const b = before.get(p.id);
    const ns = (p.run_time_ns ?? 0) - (b?.run_time_ns ?? 0);
    const runs = (p.run_cnt ?? 0) - (b?.run_cnt ?? 0);
    return { name: p.name!, ns, runs };
  })
  .filter((r) => r.runs > 0);
const us = (ns: number) => (ns / 1000).toFixed(2);
const total = (re: RegExp) => rows.filter((r) => re.test(r.name)).reduce((a, r) => a + r.ns, 0);
const aod = total(/^smb/);
const base = total(/^countbase/);
const clock = existsSync(join(dir, "clocksource")) ? `, clocksource ${read("clocksource").trim()}` : "";
console.log(
  `kernel ${read("kernel").trim()}${clock}, ${commands} SMB commands in ${read("workload.seconds").trim()} s; aod with metrics on (the per-share histogram counted)\n`,
);
if (existsSync(join(dir, "idle-rss-kb")))
  console.log(
    `idle RSS of aod run attached to this cifs mount, no traffic, metrics off: ${(Number(read("idle-rss-kb")) / 1024).toFixed(1)} MiB (${read("idle-waiter").trim()} ring waiter; issue 18 goal 1: ≤ 38 MB)\n`,
  );
const old = total(/^oldslower/);
console.log("| program | runs | µs per run | µs per SMB command |\n|---|---|---|---|");
for (const r of rows.filter((r) => !r.name.startsWith("prof_")).sort((a, b) => b.ns - a.ns))
  console.log(`| ${r.name} | ${r.runs} | ${us(r.ns / r.runs)} | ${us(r.ns / commands)} |`);
console.log(
  `\naod: ${us(aod / commands)} µs of BPF time per SMB command; count-only baseline on the same hooks: ${us(base / commands)} µs; ratio ${(aod / base).toFixed(1)}×`,
);
if (old)
  console.log(
    `older smbslower (oldslower_*, same run): ${us(old / commands)} µs per SMB command; ratio ${(old / base).toFixed(1)}×; now ${((1 - aod / old) * 100).toFixed(0)}% less`,
  );
const prof = rows.filter((r) => r.name.startsWith("prof_"));
const empty = prof.find((r) => r.name === "prof_empty");
if (prof.length && empty) {
  const e = empty.ns / empty.runs;
  console.log("\n| operation (prof_*, on dequeue_mid) | runs | µs per run | minus prof_empty |\n|---|---|---|---|");
  for (const r of prof.sort((a, b) => b.ns / b.runs - a.ns / a.runs))
    console.log(`| ${r.name} | ${r.runs} | ${us(r.ns / r.runs)} | ${us(r.ns / r.runs - e)} |`);
}
