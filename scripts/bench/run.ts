// `make bench`: runs the scenarios scripts/bench/NN-*.ts one after another (each
// its own process), under one dated, machine-described heading in BENCHMARKS.md.
// BENCH=02 (or BENCH=01,04) runs only those. Each scenario prints its table and
// appends it; a failing scenario is recorded and the others still run.
import { appendFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BUN, describeMachine, machine, RESULTS_FILE } from "./lib";

const only = (process.env.BENCH ?? "").split(/[,\s]+/).filter(Boolean);
const scripts = readdirSync(import.meta.dir)
  .filter((f) => /^\d\d-.*\.ts$/.test(f))
  .sort()
  .filter((f) => !only.length || only.some((p) => f.startsWith(p.padStart(2, "0")) || f.startsWith(p)));
if (!scripts.length) {
  console.error(
    `no scenario matches BENCH=${process.env.BENCH}; there are: ${readdirSync(import.meta.dir)
      .filter((f) => /^\d\d-/.test(f))
      .join(", ")}`,
  );
  process.exit(2);
}
const m = machine();
const record = !process.env.AOD_BENCH_NO_RECORD;
console.log(`aod benchmarks: ${scripts.join(", ")}\n${describeMachine(m)}`);
if (record)
  appendFileSync(
    RESULTS_FILE,
    `\n### ${describeMachine(m)}\n\n\`make bench${only.length ? ` BENCH=${only.join(",")}` : ""}\`\n`,
  );

const t0 = performance.now();
const times: string[] = [];
let failed = 0;
for (const s of scripts) {
  const t = performance.now();
  const r = Bun.spawnSync([BUN, join(import.meta.dir, s)], {
    stdout: "inherit",
    stderr: "inherit",
    env: { ...process.env, AOD_BENCH_RUN_HEADER: "1" },
  });
  const sec = (performance.now() - t) / 1000;
  times.push(`${s.replace(/\.ts$/, "")} ${sec.toFixed(0)} s${r.exitCode ? ` (FAILED, exit ${r.exitCode})` : ""}`);
  if (r.exitCode) {
    failed++;
    if (record) appendFileSync(RESULTS_FILE, `\n#### ${s}: FAILED (exit ${r.exitCode}) — see the make bench output\n`);
  }
}
const total = (performance.now() - t0) / 1000;
const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
const summary = `Run time ${Math.floor(total / 60)} min ${Math.round(total % 60)} s: ${times.join(", ")}. Load average at the end: ${load}.`;
console.log(`\n${summary}`);
if (record) appendFileSync(RESULTS_FILE, `\n${summary}\n`);
process.exit(failed ? 1 : 0);
