// A latency tool's per-command log2 latency histogram (map `hist`, per CPU): read,
// summed over CPUs, and printed. Bucket i counts latencies in [2^i, 2^(i+1)) us
// (bucket 0 also holds < 1 us).
import type { NameTable } from "../format/name-table";
import { type BpfMap, numPossibleCpus } from "../native/libbpf";

export const HIST_SLOTS = 32; // AOD_HIST_SLOTS in bpf/aod_event.h

export interface CommandHistogram {
  command: string;
  id: number;
  count: number;
  /** counts[i]: latencies in [2^i, 2^(i+1)) us. */
  counts: number[];
}

/** A command's latency histogram on one share (metrics): the same buckets, per share. */
export interface ShareHistogram {
  protocol: "smb" | "nfs";
  command: string;
  /** \\server\share, server:/export; "none" for commands outside any share. */
  share: string;
  /** counts[i]: latencies in [2^i, 2^(i+1)) us, since attach. */
  counts: number[];
}

/**
 * Every entry of a share_hist map (struct aod_share_hist values, keys of
 * `keySize` bytes), summed per (command, share) as `label` names them.
 */
export function readShareHistograms(
  map: BpfMap,
  keySize: number,
  protocol: ShareHistogram["protocol"],
  label: (key: DataView) => { command: string; share: string },
): ShareHistogram[] {
  const out = new Map<string, ShareHistogram>();
  const add = (key: DataView, words: Uint32Array, at: number) => {
    const { command, share } = label(key);
    const id = `${command}\0${share}`;
    let h = out.get(id);
    if (!h) {
      h = { protocol, command, share, counts: new Array<number>(HIST_SLOTS).fill(0) };
      out.set(id, h);
    }
    // u64 counters as two u32 halves: no BigInt per bucket.
    for (let i = 0; i < HIST_SLOTS; i++) h.counts[i]! += words[at + 2 * i]! + words[at + 2 * i + 1]! * 2 ** 32;
  };
  const valueSize = HIST_SLOTS * 8;
  const all = map.entries(keySize, valueSize);
  if (all) {
    const words = new Uint32Array(all.values.buffer, 0, (all.count * valueSize) / 4);
    const keys = new DataView(all.keys.buffer);
    for (let e = 0; e < all.count; e++)
      add(new DataView(keys.buffer, e * keySize, keySize), words, (e * valueSize) / 4);
    return [...out.values()];
  }
  const val = new Uint32Array(HIST_SLOTS * 2);
  for (const key of map.keys(keySize)) {
    if (!map.lookup(key, val)) continue; // evicted meanwhile
    add(new DataView(key.buffer), val, 0);
  }
  return [...out.values()];
}

/** Sums a per-CPU array map entry. */
export function readPercpuU64(map: BpfMap, key: number, cpus = numPossibleCpus()): bigint {
  const vals = new BigUint64Array(cpus);
  if (!map.lookup(new Uint32Array([key]), vals)) return 0n;
  return vals.reduce((a, b) => a + b, 0n);
}

/** The histogram of every command that completed at least once. */
export function readHistograms(hist: BpfMap, commands: NameTable): CommandHistogram[] {
  const cpus = numPossibleCpus();
  const vals = new BigUint64Array(cpus);
  const key = new Uint32Array(1);
  const out: CommandHistogram[] = [];
  for (let c = 0; c < commands.names.length; c++) {
    const counts = new Array<number>(HIST_SLOTS).fill(0);
    let total = 0;
    for (let s = 0; s < HIST_SLOTS; s++) {
      key[0] = c * HIST_SLOTS + s;
      vals.fill(0n);
      if (!hist.lookup(key, vals)) continue;
      const n = Number(vals.reduce((a, b) => a + b, 0n));
      counts[s] = n;
      total += n;
    }
    if (total > 0) out.push({ command: commands.name(c), id: c, count: total, counts });
  }
  return out;
}

/** Difference of two readings (for --interval: what happened since the last one). */
export function diffHistograms(now: CommandHistogram[], before: CommandHistogram[]): CommandHistogram[] {
  const prev = new Map(before.map((h) => [h.id, h]));
  return now
    .map((h) => {
      const p = prev.get(h.id);
      const counts = h.counts.map((n, i) => n - (p?.counts[i] ?? 0));
      return { ...h, counts, count: counts.reduce((a, b) => a + b, 0) };
    })
    .filter((h) => h.count > 0);
}

/** Approximate percentile (upper bound of the bucket), in ms. */
export function histPercentileMs(h: CommandHistogram, p: number): number {
  const want = Math.ceil((h.count * p) / 100);
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i]!;
    if (seen >= want && want > 0) return 2 ** (i + 1) / 1000;
  }
  return 0;
}

const range = (i: number): string => {
  const fmt = (us: number) => (us >= 1e6 ? `${us / 1e6}s` : us >= 1000 ? `${us / 1000}ms` : `${us}us`);
  return `${i === 0 ? "0" : fmt(2 ** i)} .. ${fmt(2 ** (i + 1))}`;
};

/** bcc-style text histograms, one block per command. */
export function formatHistograms(hs: CommandHistogram[], width = 40): string {
  const lines: string[] = [];
  for (const h of hs) {
    lines.push(
      `${h.command}: ${h.count} commands, p50 ≤ ${histPercentileMs(h, 50)} ms, p99 ≤ ${histPercentileMs(h, 99)} ms`,
    );
    const first = h.counts.findIndex((n) => n > 0);
    const last = h.counts.length - 1 - [...h.counts].reverse().findIndex((n) => n > 0);
    const max = Math.max(...h.counts);
    for (let i = first; i <= last; i++) {
      const n = h.counts[i]!;
      const bar = "*".repeat(max ? Math.round((n / max) * width) : 0);
      lines.push(`  ${range(i).padStart(22)} : ${String(n).padStart(8)} |${bar.padEnd(width)}|`);
    }
  }
  return lines.join("\n");
}
