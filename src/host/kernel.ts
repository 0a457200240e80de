// Facts about the host that `aod check` reports and other parts reuse.
import { existsSync, mkdirSync, readFileSync, statfsSync } from "node:fs";
import { errorMessage } from "../util/errors";

export const TRACEFS = "/sys/kernel/tracing";

export function kernelRelease(): string {
  try {
    return readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {
    return "unknown";
  }
}

export function tracefsMounted(): boolean {
  return existsSync(`${TRACEFS}/events`);
}

/** Mounts tracefs at /sys/kernel/tracing when missing (root only). */
export function ensureTracefs(): { ok: boolean; mountedNow: boolean; why?: string } {
  if (tracefsMounted()) return { ok: true, mountedNow: false };
  if (process.geteuid?.() !== 0)
    return { ok: false, mountedNow: false, why: "not mounted, and only root can mount it" };
  try {
    mkdirSync(TRACEFS, { recursive: true });
    const r = Bun.spawnSync(["mount", "-t", "tracefs", "tracefs", TRACEFS], { stderr: "pipe" });
    if (r.exitCode !== 0) return { ok: false, mountedNow: false, why: r.stderr.toString().trim() };
    return { ok: tracefsMounted(), mountedNow: true };
  } catch (e) {
    return { ok: false, mountedNow: false, why: errorMessage(e) };
  }
}

export function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}
