// The loop behind `aod monitor` and `aod disk`: one CSV row every interval, on a
// fixed schedule from the start (no drift), printed as it is taken, with a
// progress bar on a terminal. Ctrl-C (or SIGTERM/SIGHUP) ends it early; the CSV
// is renamed into place either way, so it is always valid.
import { CsvStream } from "./files";

export interface SamplerOptions {
  file: string;
  header: string[];
  intervalSec: number;
  /** Run length; 0 or undefined: until stopped. */
  minutes?: number;
  /** Take the first sample at once (disk) rather than after one interval (rates such as CPU). */
  sampleAtStart?: boolean;
  /** Called once per tick; returns the CSV fields and the line to print. */
  sample(now: Date): { fields: (string | number)[]; line: string };
}

export interface SamplerResult {
  samples: number;
  interrupted: boolean;
}

const clock = (sec: number) => {
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, "0");
  return `${h ? `${h}:` : ""}${mm}:${String(s % 60).padStart(2, "0")}`;
};

function progressLine(elapsed: number, total: number | undefined, samples: number): string {
  if (!total) return `${clock(elapsed)} elapsed, ${samples} samples (Ctrl-C to stop)`;
  const frac = Math.min(1, elapsed / total);
  const width = 30;
  const done = Math.round(frac * width);
  return `[${"#".repeat(done)}${"-".repeat(width - done)}] ${Math.floor(frac * 100)}%  ${clock(total - elapsed)} left (Ctrl-C to stop)`;
}

/** A status line on stderr (plain, not coloured), clearing the progress bar first. */
export function status(message: string): void {
  process.stderr.write(`${process.stderr.isTTY ? "\r\x1b[K" : ""}${message}\n`);
}

export async function runSampler(opts: SamplerOptions): Promise<SamplerResult> {
  const intervalMs = opts.intervalSec * 1000;
  const totalSec = opts.minutes ? opts.minutes * 60 : undefined;
  const first = opts.sampleAtStart ? 0 : 1;
  // Ticks k = first, first+1, ... at start + k·interval: while k·interval ≤ run
  // length for rates (each sample closes an interval), < run length otherwise.
  const ticks = ((totalSec ?? 0) * 1000) / intervalMs;
  const lastTick =
    totalSec === undefined ? Infinity : opts.sampleAtStart ? Math.ceil(ticks - 1e-9) - 1 : Math.floor(ticks + 1e-9);
  const tty = !!process.stderr.isTTY;
  const csv = new CsvStream(opts.file, opts.header);
  let samples = 0;
  let interrupted = false;
  let wake: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    interrupted = true;
    if (timer) clearTimeout(timer);
    wake?.();
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, stop);
  const start = performance.now();
  const bar = () => {
    if (tty) process.stderr.write(`\r\x1b[K${progressLine((performance.now() - start) / 1000, totalSec, samples)}`);
  };
  const barTimer = tty ? setInterval(bar, 1000) : undefined;
  try {
    for (let k = first; k <= lastTick && !interrupted; k++) {
      let delay = start + k * intervalMs - performance.now();
      if (delay < -intervalMs) {
        // Fell behind (suspended, overloaded): skip the missed ticks, keep the grid.
        k = Math.floor((performance.now() - start) / intervalMs) + 1;
        if (k > lastTick) break;
        delay = start + k * intervalMs - performance.now();
      }
      if (delay > 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, delay);
        });
        wake = timer = undefined;
      }
      if (interrupted) break;
      const { fields, line } = opts.sample(new Date());
      csv.row(fields);
      samples++;
      if (tty) process.stderr.write("\r\x1b[K");
      process.stdout.write(`${line}\n`);
      bar();
    }
  } finally {
    if (barTimer) clearInterval(barTimer);
    for (const s of signals) process.off(s, stop);
    if (tty) process.stderr.write("\r\x1b[K");
    csv.close();
  }
  return { samples, interrupted };
}
