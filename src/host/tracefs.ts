// tracefs: where the cifs tracepoints are described. Field offsets are read
// from each event's `format` file at load time, never hard-coded, so one BPF
// object works on kernels whose layouts differ.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { log } from "../log";
import { errorMessage } from "../util/errors";

export const TRACEFS_CANDIDATES = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/**
 * Where tracefs is mounted (either candidate), mounting it at
 * /sys/kernel/tracing when missing (root only) unless `mount` is false.
 * `mountedNow`: this call mounted it; `why`: why there is none.
 */
export function ensureTracefs(mount = true): { root?: string; mountedNow: boolean; why?: string } {
  for (const d of TRACEFS_CANDIDATES) if (existsSync(`${d}/events`)) return { root: d, mountedNow: false };
  const target = TRACEFS_CANDIDATES[0]!;
  if (!mount) return { mountedNow: false, why: "not mounted" };
  if (process.geteuid?.() !== 0) return { mountedNow: false, why: "not mounted, and only root can mount it" };
  try {
    mkdirSync(target, { recursive: true });
  } catch (e) {
    return { mountedNow: false, why: errorMessage(e) };
  }
  const r = Bun.spawnSync(["mount", "-t", "tracefs", "nodev", target], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode === 0 && existsSync(`${target}/events`)) {
    log.info(`mounted tracefs at ${target}`);
    return { root: target, mountedNow: true };
  }
  const why = r.stderr.toString().trim() || `mount -t tracefs exited ${r.exitCode}`;
  log.debug(`mount tracefs failed: ${why}`);
  return { mountedNow: false, why };
}

/** The tracefs mount point, mounting it when missing (root only); undefined when there is none. */
export function tracefsRoot(mount = true): string | undefined {
  return ensureTracefs(mount).root;
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
