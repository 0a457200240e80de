// Helper of 06-compression.ts, run as its own process: compresses FILE into OUT
// with aod's own code and prints {ms, cpuMs, bytes} (the compression's wall and
// CPU time, without Bun's start-up and reading the input).
//   bun pack.ts zstd FILE OUT     ZstdCompressor (level 3, 1 worker) in 1 MiB steps, as writeBundle does
//   bun pack.ts bundle FILE DIR   writeBundle(): tar + zstd + fsync + rename, as a collection does
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { writeBundle } from "../../src/bundle/write";
import { ZstdCompressor } from "../../src/native/zstd";

const [mode, file, out] = process.argv.slice(2) as [string, string, string];
const data = readFileSync(file);
const t0 = performance.now();
const c0 = process.cpuUsage(); // the whole process: libzstd's worker thread too
let bytes = 0;
if (mode === "zstd") {
  const fd = openSync(out, "w", 0o600);
  const z = new ZstdCompressor({ level: 3, workers: 1 });
  const step = 1 << 20;
  for (let o = 0; o < data.length; o += step)
    for (const c of z.push(data.subarray(o, o + step))) bytes += writeSync(fd, c);
  for (const c of z.end()) bytes += writeSync(fd, c);
  closeSync(fd);
} else {
  const r = await writeBundle(out, BigInt(Date.now()) * 1_000_000n, [{ name: basename(file), data }], 3);
  bytes = r.bytes;
}
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, bytes }));
