// tracefs: where the cifs tracepoints are described. Field offsets are read
// from each event's `format` file at load time, never hard-coded, so one BPF
// object works on kernels whose layouts differ.
import { existsSync, readFileSync } from "node:fs";
import { log } from "../log";

export const TRACEFS_CANDIDATES = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** The tracefs mount point, mounting it at /sys/kernel/tracing when missing (root only). */
export function tracefsRoot(mount = true): string | undefined {
  for (const d of TRACEFS_CANDIDATES) if (existsSync(`${d}/events`)) return d;
  if (!mount || process.geteuid?.() !== 0 || !existsSync("/sys/kernel/tracing")) return undefined;
  const r = Bun.spawnSync(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  if (r.exitCode === 0 && existsSync("/sys/kernel/tracing/events")) {
    log.info("mounted tracefs at /sys/kernel/tracing");
    return "/sys/kernel/tracing";
  }
  log.debug(`mount tracefs failed: ${r.stderr.toString().trim()}`);
  return undefined;
}

export interface TraceField {
  offset: number;
  size: number;
  signed: boolean;
}

/** Fields of a tracepoint `format` file: name -> offset/size. */
export function parseFormat(text: string): Record<string, TraceField> {
  const out: Record<string, TraceField> = {};
  for (const m of text.matchAll(/field:([^;]*?)\b(\w+)(?:\[\d*\])?;\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/g)) {
    out[m[2]!] = { offset: Number(m[3]), size: Number(m[4]), signed: m[5] === "1" };
  }
  return out;
}

/** The fields of one event, or undefined when it does not exist. */
export function readEventFormat(
  category: string,
  event: string,
  root = tracefsRoot(),
): Record<string, TraceField> | undefined {
  if (!root) return undefined;
  try {
    return parseFormat(readFileSync(`${root}/events/${category}/${event}/format`, "utf8"));
  } catch {
    return undefined;
  }
}
