// The load generator's driver, as its own process: reads one JSON line
// {rate, burst, seconds} per step on stdin, makes rate/burst getppid() calls a
// second (the BPF object turns each into `burst` events), and answers with
// {calls, seconds, cpuPct} on stdout. Its pid is what `aod _loadgen --loadgen-pid` watches.
import { readFileSync } from "node:fs";
import { generate } from "./lib";

const cpuTicks = () => {
  const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
};

console.log("ready");
let buf = "";
for await (const chunk of Bun.stdin.stream()) {
  buf += new TextDecoder().decode(chunk);
  for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
    const { rate, burst, seconds } = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    const c0 = cpuTicks();
    const r = await generate(rate, burst, seconds);
    const cpuPct = ((cpuTicks() - c0) / 100 / r.seconds) * 100;
    console.log(JSON.stringify({ ...r, cpuPct }));
  }
}
