// Shared test helpers: where things are, and skipping with a printed reason.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
export const AOD = join(ROOT, "dist/aod");
export const SHARED = resolve(ROOT, "../shared");
export const isRoot = process.geteuid?.() === 0;

/** Returns why a test cannot run here, printing it once; undefined when it can. */
export function skipReason(reasons: Record<string, boolean>): string | undefined {
  for (const [why, failed] of Object.entries(reasons)) {
    if (failed) {
      console.log(`SKIP: ${why}`);
      return why;
    }
  }
  return undefined;
}

export const needsRoot = () => skipReason({ "needs root (BPF)": !isRoot });
export const needsBinary = () => skipReason({ "dist/aod not built (make build)": !existsSync(AOD) });

export function tempDir(prefix = "aod-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function runAod(args: string[], opts: { cwd?: string; env?: Record<string, string>; stdin?: string } = {}) {
  const r = Bun.spawnSync([AOD, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, AOD_LOG_LEVEL: "warn", ...opts.env },
    stdin: opts.stdin ? Buffer.from(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
