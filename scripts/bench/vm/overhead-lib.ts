// What the VM overhead reports (smb-overhead-report.ts, nfs-overhead-report.ts)
// read alike from their results dir: aod's BPF run time from bpftool before and
// after each run with aod, and what aod's "stopped" log lines counted.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Prog {
  id: number;
  name?: string;
  run_time_ns?: number;
  run_cnt?: number;
}
export interface ProgTime {
  ns: number;
  runs: number;
}

/** The run has bpftool's program list before and after it (runs with aod, kernel.bpf_stats_enabled=1). */
export const hasBpfStats = (dir: string, label: string) => existsSync(join(dir, `progs-${label}-after.json`));

/** BPF run time (kernel.bpf_stats_enabled) per program whose name matches `names`, summed over the runs. */
export function bpfRunTime(dir: string, labels: string[], names: RegExp): Map<string, ProgTime> {
  const progs = (f: string) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Prog[];
  const out = new Map<string, ProgTime>();
  for (const label of labels) {
    const before = new Map(progs(`progs-${label}-before.json`).map((p) => [p.id, p]));
    for (const p of progs(`progs-${label}-after.json`)) {
      if (!names.test(p.name ?? "")) continue;
      const acc = out.get(p.name!) ?? { ns: 0, runs: 0 };
      acc.ns += (p.run_time_ns ?? 0) - (before.get(p.id)?.run_time_ns ?? 0);
      acc.runs += (p.run_cnt ?? 0) - (before.get(p.id)?.run_cnt ?? 0);
      out.set(p.name!, acc);
    }
  }
  return out;
}

/** Events and anomalies counted by the "stopped" lines of every aod-*.log. */
export function aodStopped(dir: string): { events: number; anomalies: number } {
  const lines = readdirSync(dir)
    .filter((f) => /^aod-.*\.log$/.test(f))
    .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n"))
    .filter((l) => l.includes('"msg":"stopped"'))
    .map((l) => JSON.parse(l) as { events?: number; anomalies?: number });
  return {
    events: lines.reduce((a, s) => a + (s.events ?? 0), 0),
    anomalies: lines.reduce((a, s) => a + (s.anomalies ?? 0), 0),
  };
}
