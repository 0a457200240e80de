// Reads nfs-overhead.sh's results (runs.tsv, mountstats and bpftool around
// each run, nfs-overhead.json, the aod logs) and prints the NFS workload's
// time without aod, with it and with its flight recorder off, the RPCs per run
// (the kernel's own count) and aod's BPF time per RPC; then appends the table
// to BENCHMARKS.md under a dated heading (AOD_BENCH_NO_RECORD=1: print only).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { nfsMountstats, rpcProgramVersion } from "../../../src/host/nfs-mountstats";
import { mmm, num, type Row, report, summarize, table } from "../lib";
import { aodStopped, bpfRunTime, hasBpfStats } from "./overhead-lib";

interface Facts {
  files: number;
  file_kib: number;
  pairs: number;
  kernel: string;
  vcpus: number;
  guest_cpu: string;
  clk_tck: number;
  aod: string;
  hooks: Record<string, string>;
  guest_seconds: number;
}
interface Run {
  label: string;
  aod: 0 | 1 | 2;
  seconds: number;
  cpuTicks: number;
  /** RPCs by NFS version, from the mounts' per-op statistics. */
  rpcs: Map<number, number>;
}

const dir = process.argv[2] ?? ".cache/vm/results/bench/nfs-overhead";
const read = (f: string) => readFileSync(join(dir, f), "utf8");
const facts = JSON.parse(read("nfs-overhead.json")) as Facts;

/** Calls per (mount point, NFS version): the first number of each per-op statistics line. */
function opsByMount(text: string): Map<string, { version: number; ops: number }> {
  const out = new Map<string, { version: number; ops: number }>();
  for (const e of nfsMountstats(text)) {
    const at = e.lines.findIndex((l) => l.trim() === "per-op statistics");
    let ops = 0;
    for (const l of at < 0 ? [] : e.lines.slice(at + 1)) ops += Number(/^\s*\S+:\s+(\d+)/.exec(l)?.[1] ?? 0);
    out.set(e.mountpoint, { version: rpcProgramVersion(e)?.version ?? 0, ops });
  }
  return out;
}
/** RPCs between two mountstats reads, by version, over the mounts present in both (an automounted submount may expire). */
function rpcsBetween(label: string): Map<number, number> {
  const before = opsByMount(read(`mountstats-${label}-before`));
  const out = new Map<number, number>();
  for (const [mnt, a] of opsByMount(read(`mountstats-${label}-after`))) {
    const b = before.get(mnt);
    if (b) out.set(a.version, (out.get(a.version) ?? 0) + a.ops - b.ops);
  }
  return out;
}
const sum = (xs: Iterable<number>) => [...xs].reduce((a, x) => a + x, 0);

const runs: Run[] = read("runs.tsv")
  .split("\n")
  .filter(Boolean)
  .map((l) => {
    const [label, aod, seconds, ticks] = l.split("\t");
    return {
      label: label!,
      aod: Number(aod) as Run["aod"],
      seconds: Number(seconds),
      cpuTicks: Number(ticks),
      rpcs: rpcsBetween(label!),
    };
  });
const of = (aod: Run["aod"]) => runs.filter((r) => r.aod === aod);
const secs = (aod: Run["aod"]) => summarize(of(aod).map((r) => r.seconds));
const without = secs(0);
const withAod = secs(1);
const norec = secs(2);
const pct = (a: number, b: number) => `${a >= b ? "+" : ""}${((a / b - 1) * 100).toFixed(1)} %`;
const rpcs = summarize(runs.map((r) => sum(r.rpcs.values())));
const byVersion = [...new Set(runs.flatMap((r) => [...r.rpcs.keys()]))]
  .sort()
  .map((v) => `v${v} ${num(summarize(runs.map((r) => r.rpcs.get(v) ?? 0)).median)}`)
  .join(", ");

// BPF run time (kernel.bpf_stats_enabled) of aod's NFS programs over every run with aod, per program name.
const withRuns = runs.filter((r) => r.aod && hasBpfStats(dir, r.label));
const bpf = bpfRunTime(
  dir,
  withRuns.map((r) => r.label),
  /^nfs/,
);
const withRpcs = sum(withRuns.map((r) => sum(r.rpcs.values())));
const perRpc = (ns: number) => num(ns / withRpcs);
const bpfTotal = sum([...bpf.values()].map((b) => b.ns));
const progRows = [...bpf]
  .sort((a, b) => b[1].ns - a[1].ns)
  .map(([name, b]) => [name, String(b.runs), b.runs ? num(b.ns / b.runs) : "–", perRpc(b.ns)]);
progRows.push(["**all NFS programs**", String(sum([...bpf.values()].map((b) => b.runs))), "", perRpc(bpfTotal)]);

// aod itself: CPU during the recorder-on runs, and what its "stopped" lines counted.
const aodCpu = sum(of(1).map((r) => r.cpuTicks)) / facts.clk_tck;
const { events, anomalies } = aodStopped(dir);

const accel = /\bTCG\b/.test(facts.guest_cpu) ? "qemu TCG" : `qemu (guest CPU "${facts.guest_cpu}")`;
const rows: Row[] = [
  { metric: "NFS workload without aod", result: mmm(without, "s") },
  { metric: "with `aod run` (shipped config, thresholds raised)", result: mmm(withAod, "s") },
  { metric: "with `aod run`, flight recorder off", result: mmm(norec, "s") },
  {
    metric: "slowdown, median with vs without",
    result: pct(withAod.median, without.median),
    note: `recorder off vs without ${pct(norec.median, without.median)}; recorder's share (with vs recorder off) ${pct(withAod.median, norec.median)}; spreads overlap: ${withAod.min <= without.max && without.min <= withAod.max ? "yes" : "no"}`,
  },
  { metric: "RPCs per run (mountstats per-op counts, NFS mounts)", result: mmm(rpcs), note: `medians ${byVersion}` },
  {
    metric: "aod BPF time per RPC (NFS programs, bpf_stats)",
    result: `${perRpc(bpfTotal)} ns`,
    note: `${withRpcs} RPCs over ${withRuns.length} runs with aod; per program below`,
  },
  {
    metric: "aod BPF time as a share of the workload",
    result: `${num(((bpfTotal / withRpcs) * rpcs.median) / 1e7 / without.median)} %`,
    note: "BPF ns per RPC × median RPCs per run ÷ median time without aod: the programs' own cost, measured by the kernel, not by the noisy wall clock",
  },
  {
    metric: "aod CPU during the runs with it",
    result: `${num(aodCpu)} s over ${num(sum(of(1).map((r) => r.seconds)))} s`,
    note: `events ${events}, anomalies ${anomalies} (expected 0: nothing reaches the thresholds)`,
  },
];
// Seconds per workload step (phases.tsv), median per condition.
const [phaseHead, ...phaseLines] = read("phases.tsv")
  .trim()
  .split("\n")
  .map((l) => l.split("\t"));
const aodOf = new Map(runs.map((r) => [r.label, r.aod]));
const phaseRows = phaseHead!
  .slice(1)
  .map((step, i) => [
    step,
    ...[0, 1, 2].map((c) =>
      num(summarize(phaseLines.filter((l) => aodOf.get(l[0]!) === c).map((l) => Number(l[i + 1]))).median),
    ),
  ]);
const extra = `${table(["program", "runs", "ns per run", "ns per RPC"], progRows)}

${table(["step (median s)", "without", "with", "recorder off"], phaseRows)}

${facts.pairs} rounds (without, with, with recorder off; the order rotated each round; each run after a 5-file untimed one and 1 s idle) of ${facts.files} files × ${facts.file_kib} KiB per mount on the v3 and the v4.1 mount of a knfsd on the guest's loopback: create+write, sync, drop caches, read, \`ls -l\`, \`stat\`, delete. aod (${facts.aod.endsWith("dist/aod") ? "dist/aod" : "its sources under bun"}) attached nfsslower via ${facts.hooks.nfsslower || "?"}, nfserr via ${facts.hooks.nfserr || "?"}, smbslower via ${facts.hooks.smbslower || "?"}; \`kernel.bpf_stats_enabled=1\` during the runs with aod (a clock read before and after each program run). Guest wall time ${facts.guest_seconds} s.`;
report(
  `NFS overhead (VM: guest kernel ${facts.kernel}, ${accel}, ${facts.vcpus} vCPU; \`make bench-vm\`)`,
  rows,
  extra,
);
