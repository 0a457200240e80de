// 7. Plots: `aod compare A.csv B.csv` on two 10 000-row system-usage CSVs (as
// `aod monitor` writes them; B with aod's own CPU/RSS columns), whole process,
// PNG + SVG written (hyperfine).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AOD, mmm, num, preflight, type Row, report, summarize, tempDir } from "./lib";

const ROWS = 10_000;
const RUNS = Number(process.env.AOD_BENCH_REPS ?? 5);
preflight(false);
const t00 = performance.now();
const dir = tempDir();
let s = 42;
const rnd = () => {
  s = (Math.imul(s, 1103515245) + 12345) >>> 0;
  return s / 2 ** 32;
};
function csv(withAod: boolean): string {
  const lines = [`Timestamp,CPU_Percent,Memory_Percent${withAod ? ",AOD_CPU_Percent,AOD_RSS_MB" : ""}`];
  const t0 = Date.UTC(2026, 10, 25, 10, 0, 0);
  for (let i = 0; i < ROWS; i++) {
    const ts = new Date(t0 + i * 1000).toISOString().replace("T", " ").slice(0, 19);
    const cpu = (20 + 10 * Math.sin(i / 300) + rnd() * 8 + (withAod ? 0.5 : 0)).toFixed(1);
    const mem = (31 + i / ROWS + rnd() * 0.5).toFixed(1);
    lines.push(`${ts},${cpu},${mem}${withAod ? `,${(rnd() * 1.5).toFixed(2)},${(60 + rnd() * 2).toFixed(1)}` : ""}`);
  }
  return `${lines.join("\n")}\n`;
}
const a = join(dir, "system_usage_baseline.csv");
const b = join(dir, "system_usage_with_aod.csv");
writeFileSync(a, csv(false));
writeFileSync(b, csv(true));
const out = join(dir, "plots");
const json = join(dir, "hf.json");
const r = Bun.spawnSync(
  [
    "hyperfine",
    "-N",
    "--warmup",
    "1",
    "--runs",
    String(RUNS),
    "--export-json",
    json,
    `${AOD} compare ${a} ${b} -o ${out}`,
  ],
  { stdout: "pipe", stderr: "pipe" },
);
const rows: Row[] = [];
if (r.exitCode !== 0)
  rows.push({
    metric: "`aod compare` on two 10 000-row CSVs",
    result: `failed: ${r.stderr.toString().trim().split("\n").pop()}`,
  });
else {
  const res = JSON.parse(await Bun.file(json).text()).results[0];
  const t = summarize(res.times.map((x: number) => x * 1000));
  const files = Bun.spawnSync(["ls", out]).stdout.toString().trim().split("\n").join(", ");
  rows.push({
    metric: `\`aod compare\` on two ${ROWS}-row CSVs (whole process, hyperfine ${RUNS} runs)`,
    result: mmm(t, "ms"),
    note: `mean ${num(res.mean * 1000)} ms; wrote ${files}`,
  });
}
report("7. Plots", rows, "", (performance.now() - t00) / 1000);
