// Reads smb-overhead.sh's results (runs.tsv, phases.tsv, /proc/fs/cifs/Stats
// at each step boundary, bpftool around each run with aod, smb-overhead.json,
// the aod logs) and prints the SMB workload's time without aod, with it and
// with its flight recorder off, the paired per-round differences, the noise
// band of the runs without aod, the SMB commands per run (the kernel's own
// count) and aod's BPF time per command; then appends the tables to
// BENCHMARKS.md under a dated heading (AOD_BENCH_NO_RECORD=1: print only).
//
// The noise band, two ways, both from the runs without aod (the same workload
// repeated, nothing changed between runs):
//  - "consecutive": the median of |t(without, round r) − t(without, round r−1)|
//    over the rounds, as a share of the median without: what two runs of the
//    same thing typically differ by, the figure to hold a per-round difference
//    against;
//  - "range": (max − min) / median of the runs without: the pessimistic one.
// The with-vs-without difference is the median of the per-round differences
// (each round's with run against the same round's without run, so a drift of
// the host over the rounds cancels), with their min and max as its spread, and
// the ratio of the medians beside it. "Within noise" when |median difference|
// is at most the consecutive band.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SMB2_COMMANDS } from "../../../src/format/smb2-commands";
import { parseCmdStats } from "../../../src/host/cifs-stats";
import { atLeast, atMost, mmm, num, type Row, report, summarize, table } from "../lib";
import { aodStopped, bpfRunTime, hasBpfStats } from "./overhead-lib";

interface Facts {
  files: number;
  file_kib: number;
  dirs: number;
  big_mib: number;
  pairs: number;
  kernel: string;
  mount: string;
  vcpus: number;
  guest_cpu: string;
  clk_tck: number;
  aod: string;
  samba: string;
  hooks: Record<string, string>;
  guest_seconds: number;
  idle_after_stop?: number;
}
/** /proc/fs/cifs/Stats at one step boundary: commands per SMB2 command id, and the shares' "SMBs:" sum. */
interface Snap {
  step: string;
  cmds: number[];
  smbs: number;
}
type Cond = 0 | 1 | 2;
interface Run {
  label: string;
  aod: Cond;
  round: number;
  seconds: number;
  cpuTicks: number;
  /** Seconds from the last aod's exit to this run's start (-1: no aod had run yet). */
  sinceStop: number;
  snaps: Snap[];
}

const dir = process.argv[2] ?? ".cache/vm/results/bench/smb-overhead";
const read = (f: string) => readFileSync(join(dir, f), "utf8");
const facts = JSON.parse(read("smb-overhead.json")) as Facts;
const sum = (xs: Iterable<number>) => [...xs].reduce((a, x) => a + x, 0);

function snaps(label: string): Snap[] {
  return read(`cifs-stats-${label}`)
    .split(/^@@ /m)
    .filter(Boolean)
    .map((part) => {
      const nl = part.indexOf("\n");
      const text = part.slice(nl + 1);
      const cmds = parseCmdStats(text);
      if (!cmds) throw new Error(`cifs-stats-${label}: no per-command table (CONFIG_CIFS_STATS2)`);
      return {
        step: part.slice(0, nl).trim(),
        cmds,
        smbs: sum([...text.matchAll(/^SMBs:\s*(\d+)/gm)].map((m) => Number(m[1]))),
      };
    });
}
/** Commands between two snapshots: in total (the per-command table), per command, and the shares' SMBs count. */
const between = (a: Snap, b: Snap) => {
  const per = b.cmds.map((n, i) => n - (a.cmds[i] ?? 0));
  return { total: sum(per), per, smbs: b.smbs - a.smbs };
};

const runs: Run[] = read("runs.tsv")
  .split("\n")
  .filter(Boolean)
  .map((l) => {
    const [label, aod, seconds, ticks, since] = l.split("\t");
    return {
      label: label!,
      aod: Number(aod) as Cond,
      round: Number(/-(\d+)$/.exec(label!)?.[1] ?? 0),
      seconds: Number(seconds),
      cpuTicks: Number(ticks),
      sinceStop: Number(since ?? NaN),
      snaps: snaps(label!),
    };
  });
const whole = (r: Run) => between(r.snaps[0]!, r.snaps[r.snaps.length - 1]!);
const of = (c: Cond) => runs.filter((r) => r.aod === c);
const secs = (c: Cond) => summarize(of(c).map((r) => r.seconds));
const without = secs(0);
const withAod = secs(1);
const norec = secs(2);
const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;
const pctAbs = (x: number) => `${(x * 100).toFixed(1)} %`;

// Per-round differences: each round's run with aod (or recorder off) against the same round's run without.
const paired = (c: Cond) =>
  summarize(
    of(c).flatMap((r) => {
      const w = of(0).find((o) => o.round === r.round);
      return w ? [r.seconds / w.seconds - 1] : [];
    }),
  );
const dWith = paired(1);
const dNorec = paired(2);
const pmm = (s: ReturnType<typeof summarize>) => `${pct(s.median)} (${pct(s.min)} … ${pct(s.max)})`;
// The noise band of the runs without aod.
const wo = of(0).sort((a, b) => a.round - b.round);
const consecutive = summarize(wo.slice(1).map((r, i) => Math.abs(r.seconds - wo[i]!.seconds))).median / without.median;
const range = (without.max - without.min) / without.median;
const withinNoise = Math.abs(dWith.median) <= consecutive;

// SMB commands per run: the per-command table (every command the client finished) and the shares' SMBs lines.
const cmdsPerRun = summarize(runs.map((r) => whole(r).total));
const smbsPerRun = summarize(runs.map((r) => whole(r).smbs));
const cmdMix = SMB2_COMMANDS.map((name, i) => [name, summarize(runs.map((r) => whole(r).per[i]!)).median] as const)
  .filter(([, n]) => n > 0)
  .sort((a, b) => b[1] - a[1])
  .map(([name, n]) => `${name.replace(/^SMB2_/, "")} ${num(n)}`)
  .join(", ");

// BPF run time (kernel.bpf_stats_enabled) of aod's programs over every run with aod, per program name.
const withRuns = runs.filter((r) => r.aod && hasBpfStats(dir, r.label));
const bpf = bpfRunTime(
  dir,
  withRuns.map((r) => r.label),
  /^(smb|nfs)/,
);
for (const [name, b] of bpf) if (!b.runs) bpf.delete(name);
const withCmds = sum(withRuns.map((r) => whole(r).total));
const perCmd = (ns: number) => num(ns / withCmds);
const bpfTotal = sum([...bpf.values()].map((b) => b.ns));
const progRows = [...bpf]
  .sort((a, b) => b[1].ns - a[1].ns)
  .map(([name, b]) => [name, String(b.runs), num(b.ns / b.runs), perCmd(b.ns)]);
progRows.push(["**all aod programs**", String(sum([...bpf.values()].map((b) => b.runs))), "", perCmd(bpfTotal)]);

// aod itself: CPU during the runs with it, and what its "stopped" lines counted.
const cpu = (c: Cond) => {
  const rs = of(c);
  const cpuS = sum(rs.map((r) => r.cpuTicks)) / facts.clk_tck;
  const s = sum(rs.map((r) => r.seconds));
  return `${num(cpuS)} s over ${num(s)} s (${num((cpuS / s) * 100)} % of a core)`;
};
const { events, anomalies } = aodStopped(dir);

const accel = /\bTCG\b/.test(facts.guest_cpu) ? "qemu TCG" : `qemu (guest CPU "${facts.guest_cpu}")`;
const cache = /\bcache=(\w+)/.exec(facts.mount)?.[1] ?? "?";
const vers = /\bvers=([\d.]+)/.exec(facts.mount)?.[1] ?? "?";
const rows: Row[] = [
  { metric: "SMB workload without aod", result: mmm(without, "s") },
  { metric: "with `aod run` (shipped config, thresholds raised)", result: mmm(withAod, "s") },
  { metric: "with `aod run`, flight recorder off", result: mmm(norec, "s") },
  {
    metric: "with vs without, per round: median (min … max)",
    result: pmm(dWith),
    target: "within noise",
    verdict: withinNoise ? "met" : `**missed**: |${pct(dWith.median)}| > the ${pctAbs(consecutive)} band`,
    note: `ratio of the medians ${pct(withAod.median / without.median - 1)}`,
  },
  {
    metric: "recorder off vs without, per round: median (min … max)",
    result: pmm(dNorec),
    note: `ratio of the medians ${pct(norec.median / without.median - 1)}; the recorder's share (with vs recorder off, medians) ${pct(withAod.median / norec.median - 1)}`,
  },
  {
    metric: "noise band: median |Δ| of consecutive runs without aod ÷ median",
    result: pctAbs(consecutive),
    target: "< 2 %",
    verdict: atMost(consecutive * 100, 2, " points"),
    note: `${wo.length - 1} consecutive pairs; the same workload twice, nothing changed`,
  },
  {
    metric: "noise band: (max − min) ÷ median of the runs without aod",
    result: pctAbs(range),
    target: "< 2 %",
    verdict: atMost(range * 100, 2, " points"),
    note: `${wo.length} runs; the pessimistic band`,
  },
  {
    metric: "SMB commands per run (/proc/fs/cifs/Stats, per-command table)",
    result: mmm(cmdsPerRun),
    target: "≥ 5000",
    verdict: atLeast(cmdsPerRun.min, 5000),
    note: `the share's "SMBs:" count ${mmm(smbsPerRun)}; medians ${cmdMix}`,
  },
  {
    metric: "aod BPF time per SMB command (aod's programs, bpf_stats)",
    result: `${perCmd(bpfTotal)} ns`,
    note: `${withCmds} commands over ${withRuns.length} runs with aod; per program below`,
  },
  {
    metric: "aod BPF time as a share of the workload",
    result: `${num(((bpfTotal / withCmds) * cmdsPerRun.median) / 1e7 / without.median)} %`,
    note: "BPF ns per command × median commands per run ÷ median time without aod: the programs' own cost, measured by the kernel, not by the wall clock",
  },
  { metric: "aod CPU during the runs with it (utime + stime)", result: cpu(1), note: `recorder off: ${cpu(2)}` },
  {
    metric: "aod events and anomalies",
    result: `${events} / ${anomalies}`,
    note: "events counted by the detectors; anomalies expected 0 (nothing reaches the thresholds)",
  },
];

// Seconds and SMB commands per workload step, median per condition (commands over every run).
const [phaseHead, ...phaseLines] = read("phases.tsv")
  .trim()
  .split("\n")
  .map((l) => l.split("\t"));
const aodOf = new Map(runs.map((r) => [r.label, r.aod]));
const ID = (name: string) => SMB2_COMMANDS.indexOf(name as (typeof SMB2_COMMANDS)[number]);
const stepCmds = (i: number, f: (d: ReturnType<typeof between>) => number) =>
  num(summarize(runs.map((r) => f(between(r.snaps[i]!, r.snaps[i + 1]!)))).median);
const phaseRows = phaseHead!
  .slice(1)
  .map((step, i) => [
    step,
    ...([0, 1, 2] as const).map((c) =>
      num(summarize(phaseLines.filter((l) => aodOf.get(l[0]!) === c).map((l) => Number(l[i + 1]))).median),
    ),
    stepCmds(i, (d) => d.total),
    stepCmds(i, (d) => d.per[ID("SMB2_READ")]!),
    stepCmds(i, (d) => d.per[ID("SMB2_WRITE")]!),
  ]);
// The small files' steps and the big file's apart: medians per condition, per-round with vs without, the band.
const stepSecs = (label: string, steps: string[]) => {
  const l = phaseLines.find((x) => x[0] === label);
  return l ? sum(steps.map((st) => Number(l[phaseHead!.indexOf(st)]))) : NaN;
};
const part = (name: string, steps: string[]): Row => {
  const t = (r: Run) => stepSecs(r.label, steps);
  const med = (c: Cond) => summarize(of(c).map(t)).median;
  const d = summarize(
    of(1).flatMap((r) => {
      const w = wo.find((o) => o.round === r.round);
      return w ? [t(r) / t(w) - 1] : [];
    }),
  );
  const band = summarize(wo.slice(1).map((r, i) => Math.abs(t(r) - t(wo[i]!)))).median / med(0);
  return {
    metric: `${name} (${steps.join(", ")}): without / with / recorder off, medians`,
    result: `${num(med(0))} / ${num(med(1))} / ${num(med(2))} s`,
    note: `with vs without per round ${pmm(d)}; consecutive band ${pctAbs(band)}`,
  };
};
rows.push(
  part("small files' steps", ["create+write", "stat", "readdir", "read-small", "delete"]),
  part("big file's steps", ["big-write", "sync", "drop_caches", "read-big"]),
);

// Every run in the order run, with the steps that differ most, and how long after the last aod's exit it began.
const condName = ["without", "with", "recorder off"];
const phaseOf = (label: string, step: string) =>
  phaseLines.find((l) => l[0] === label)?.[phaseHead!.indexOf(step)] ?? "–";
const runRows = runs.map((r) => [
  r.label,
  condName[r.aod]!,
  num(r.seconds),
  ...["create+write", "big-write", "read-small", "read-big", "delete"].map((st) => phaseOf(r.label, st)),
  String(whole(r).total),
  r.sinceStop < 0 ? "none yet" : num(r.sinceStop),
]);
const released = existsSync(join(dir, "released.tsv"))
  ? summarize(
      read("released.tsv")
        .split("\n")
        .filter(Boolean)
        .map((l) => Number(l.split("\t")[1])),
    )
  : undefined;
const extra = `${table(["program", "runs", "ns per run", "ns per SMB command"], progRows)}

${table(["step (median)", "without (s)", "with (s)", "recorder off (s)", "SMB commands", "of which READ", "WRITE"], phaseRows)}

${table(["run", "aod", "s", "create+write", "big-write", "read-small", "read-big", "delete", "SMB commands", "s since the last aod exited"], runRows)}

${facts.pairs} rounds (without, with, with recorder off; the order rotated each round; each run after a 30-file untimed one and 1 s idle) on the VM's cifs mount of a Samba on the guest's loopback (${facts.samba || "smbd"}, SMB ${vers}, cache=${cache}): ${facts.files} files × ${facts.file_kib} KiB over ${facts.dirs} directories created and written (bash redirections), ${facts.big_mib} MiB written sequentially (dd, 1 MiB writes), sync, drop caches, \`[[ -f ]]\` of each small file, a glob of each directory, \`read\` of each small file, the ${facts.big_mib} MiB read back (dd), \`rm -r\`. The time is the sum of the steps; /proc/fs/cifs/Stats is read between steps, outside them. aod (${facts.aod.endsWith("dist/aod") ? "dist/aod" : "its sources under bun"}) attached smbslower via ${facts.hooks.smbslower || "?"}; \`kernel.bpf_stats_enabled=1\` during the runs with aod (a clock read before and after each program run, in the measured time too). After each aod exit the script waits until its BPF programs have left the kernel (${released ? mmm(released, "s") : "?"}) and then ${facts.idle_after_stop ?? "?"} s more. Guest wall time ${facts.guest_seconds} s. Noise band "consecutive": median |Δ| between the runs without aod of consecutive rounds ÷ their median; "range": (max − min) ÷ median of the same runs.`;
report(
  `SMB overhead (VM: guest kernel ${facts.kernel}, ${accel}, ${facts.vcpus} vCPU; \`make bench-vm BENCH_VM=smb\`)`,
  rows,
  extra,
);
