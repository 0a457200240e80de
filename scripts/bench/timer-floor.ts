// What one wakeup of Bun's event loop costs on its own: a bare timer every
// 40 ms (the reader's longest poll interval) for 10 s, main-thread CPU time
// from schedstat per wakeup. The floor under aod's per-wakeup cost.
import { readFileSync } from "node:fs";

const ns = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);
const SECONDS = 10;
await Bun.sleep(500); // past start-up work
const n0 = ns();
let wakeups = 0;
const t = setInterval(() => wakeups++, 40);
await Bun.sleep(SECONDS * 1000);
clearInterval(t);
const us = (ns() - n0) / 1000;
console.log(JSON.stringify({ wakeups, usPerWakeup: us / wakeups, pct: (us / 1e6 / SECONDS) * 100 }));
