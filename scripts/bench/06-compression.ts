// 6. Compression: packing 100 MB of log-like text with aod's zstd layer
// (ZstdCompressor, level 3, one worker, 1 MiB steps) vs the `zstd -3 -T1` CLI
// on the same file, alternated in one run; plus writeBundle() as a whole (tar +
// zstd + fsync). MB/s = input MB (10^6 bytes) per second of wall time, and per
// CPU-second (user + system, all threads): on a loaded shared machine the CPU
// figure is the stable one, so the verdict uses it.
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, mmm, num, preflight, type Row, report, summarize, tempDir } from "./lib";

const MB = Number(process.env.AOD_BENCH_MB ?? 100);
const REPS = Number(process.env.AOD_BENCH_REPS ?? 7);
preflight(false);
const t00 = performance.now();
const dir = tempDir();
const input = join(dir, "logs.txt");

// Log-like text: syslog/dmesg/journal lines with timestamps, hosts, pids,
// recurring messages and varying numbers, from a fixed-seed PRNG.
function makeLogs(bytes: number): Buffer {
  let s = 0x12345678;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)]!;
  const procs = [
    "kernel",
    "systemd[1]",
    "sshd[812]",
    "cron[544]",
    "smbd[2231]",
    "aod[1902]",
    "NetworkManager[611]",
    "rsyslogd[498]",
  ];
  const msgs = [
    () =>
      `CIFS: VFS: \\\\fs${Math.floor(rnd() * 4)}.corp.example.com Send error in SessSetup = -${pick([13, 5, 110, 104])}`,
    () =>
      `CIFS: Status code returned 0xc000${Math.floor(rnd() * 0xfff)
        .toString(16)
        .padStart(3, "0")} STATUS_${pick(["ACCESS_DENIED", "IO_TIMEOUT", "NETWORK_NAME_DELETED", "LOGON_FAILURE"])}`,
    () =>
      `Accepted publickey for ${pick(["deploy", "root", "backup"])} from 10.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)} port ${Math.floor(rnd() * 60000)} ssh2`,
    () =>
      `Started ${pick(["session", "Daily apt download activities", "Cleanup of Temporary Directories", "Rotate log files"])}${rnd() < 0.5 ? ` ${Math.floor(rnd() * 9999)}` : ""}.`,
    () =>
      `smb2_reconnect: reconnect tcon rc = ${pick([0, -11, -112])} mid=${Math.floor(rnd() * 1e6)} credits=${Math.floor(rnd() * 512)}`,
    () =>
      `audit: type=1400 audit(${(1.7e9 + rnd() * 1e6).toFixed(3)}:${Math.floor(rnd() * 1e4)}): apparmor="ALLOWED" operation="open" profile="/usr/sbin/smbd" name="/srv/share/${Math.floor(rnd() * 1e5).toString(36)}.dat" pid=${Math.floor(rnd() * 40000)}`,
    () => `(CRON) INFO (pidfile fd = 3) job ${Math.floor(rnd() * 100)} exited with status ${pick([0, 0, 0, 1])}`,
    () =>
      `eth0: Link is Up - 10Gbps/Full - flow control rx/tx; rx_bytes=${Math.floor(rnd() * 1e12)} tx_bytes=${Math.floor(rnd() * 1e12)}`,
  ];
  const parts: string[] = [];
  let n = 0;
  let t = Date.UTC(2026, 10, 25, 0, 0, 0);
  while (n < bytes) {
    t += Math.floor(rnd() * 400);
    const line = `${new Date(t).toISOString()} host${Math.floor(rnd() * 3)} ${pick(procs)}: ${pick(msgs)()}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join("")).subarray(0, bytes);
}
writeFileSync(input, makeLogs(MB * 1e6));

const ours: number[] = [];
const cli: number[] = [];
const oursCpu: number[] = [];
const cliCpu: number[] = [];
const bundle: number[] = [];
const bundleCpu: number[] = [];
let oursBytes = 0;
let cliBytes = 0;
let bundleBytes = 0;
const pack = (mode: string, out: string) => {
  const r = Bun.spawnSync([BUN, join(import.meta.dir, "pack.ts"), mode, input, out], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`pack.ts ${mode}: ${r.stderr}`);
  return JSON.parse(r.stdout.toString()) as { ms: number; cpuMs: number; bytes: number };
};
for (let i = 0; i < REPS; i++) {
  const a = pack("zstd", join(dir, "ours.zst"));
  ours.push(MB / (a.ms / 1000));
  oursCpu.push(MB / (a.cpuMs / 1000));
  oursBytes = a.bytes;
  const t0 = performance.now();
  const r = Bun.spawnSync(["zstd", "-3", "-T1", "-q", "-f", input, "-o", join(dir, "cli.zst")], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`zstd: ${r.stderr}`);
  cli.push(MB / ((performance.now() - t0) / 1000));
  cliCpu.push(MB / (Number(r.resourceUsage.cpuTime.total) / 1e6));
  cliBytes = statSync(join(dir, "cli.zst")).size;
  const bdir = join(dir, `b${i}`);
  mkdirSync(bdir);
  const b = pack("bundle", bdir);
  bundle.push(MB / (b.ms / 1000));
  bundleCpu.push(MB / (b.cpuMs / 1000));
  bundleBytes = b.bytes;
}
const o = summarize(ours);
const c = summarize(cli);
const ratios = summarize(ours.map((x, i) => x / cli[i]!));
const cpuRatios = summarize(oursCpu.map((x, i) => x / cliCpu[i]!));
const rows: Row[] = [
  {
    metric: `aod's ZstdCompressor, level 3, 1 worker (${MB} MB log-like text)`,
    result: `${mmm(o, "MB/s")} wall; ${mmm(summarize(oursCpu), "MB/CPU-s")}`,
    note: `compressed to ${num(oursBytes / 1e6)} MB (${num((MB * 1e6) / oursBytes)}:1); compression only, ${REPS} runs`,
  },
  {
    metric: "`zstd -3 -T1` CLI, same file, same run",
    result: `${mmm(c, "MB/s")} wall; ${mmm(summarize(cliCpu), "MB/CPU-s")}`,
    note: `compressed to ${num(cliBytes / 1e6)} MB; whole process`,
  },
  {
    metric: "ratio aod / CLI, per CPU-second (per alternated pair)",
    result: mmm(cpuRatios, "×", 2),
    target: "≈ 1 (same library): ≥ 0.9",
    verdict: cpuRatios.median >= 0.9 ? "met" : `**missed**: ${num((1 - cpuRatios.median) * 100)}% slower`,
    note: `wall-time ratio ${mmm(ratios, "×", 2)} (noisy under load)`,
  },
  {
    metric: "writeBundle() of the same file (tar + zstd + fsync + rename)",
    result: `${mmm(summarize(bundle), "MB/s")} wall; ${mmm(summarize(bundleCpu), "MB/CPU-s")}`,
    note: `${num(bundleBytes / 1e6)} MB written; Bun.Archive builds the whole tar in memory first (see findings)`,
  },
];
report("6. Compression", rows, "", (performance.now() - t00) / 1000);
