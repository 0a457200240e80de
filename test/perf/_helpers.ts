// Shared by the perf tests: the compiled binary, the prototype's fixtures in
// ../shared, and PNG header reading.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const SHARED_FIXTURES = resolve(ROOT, "../shared/fixtures");
export const LOCAL_FIXTURES = join(ROOT, "test/fixtures/perf");
export const BIN = join(ROOT, "dist/aod");

/** Skip reason for tests of ../shared fixtures, or undefined when they are there. */
export const sharedMissing: string | undefined = existsSync(join(SHARED_FIXTURES, "system_usage_baseline.csv"))
  ? undefined
  : `../shared/fixtures is absent (${SHARED_FIXTURES}): tests of the prototype's CSV files are skipped`;
if (sharedMissing) console.log(`skip: ${sharedMissing}`);

let binaryChecked: string | undefined | null = null;
/** Skip reason for tests of the compiled binary; builds it with `make build` when missing. */
export function binaryMissing(): string | undefined {
  if (binaryChecked !== null) return binaryChecked;
  if (!existsSync(BIN)) {
    const r = Bun.spawnSync(["make", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0 || !existsSync(BIN)) {
      binaryChecked = `dist/aod is missing and \`make build\` failed: ${r.stderr.toString().trim().split("\n").pop()}`;
      console.log(`skip: ${binaryChecked}`);
      return binaryChecked;
    }
  }
  binaryChecked = undefined;
  return binaryChecked;
}

export function shared(name: string): string {
  return join(SHARED_FIXTURES, name);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function aod(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): RunResult {
  const r = Bun.spawnSync([BIN, ...args], {
    cwd: opts.cwd,
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height from a PNG's IHDR, after checking the signature and chunk type. */
export function pngSize(path: string): { width: number; height: number } {
  const b = readFileSync(path);
  if (!PNG_SIGNATURE.every((x, i) => b[i] === x)) throw new Error(`${path}: not a PNG (bad signature)`);
  if (b.toString("latin1", 12, 16) !== "IHDR") throw new Error(`${path}: first chunk is not IHDR`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** Rows of a CSV as the tests read it, independently of src/perf/csv.ts. */
export function readCsv(path: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .map((l) => l.replace(/\r$/, ""))
    .filter((l) => l !== "");
  return { header: lines[0]!.split(","), rows: lines.slice(1).map((l) => l.split(",")) };
}

export function mean(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation computed the textbook way: sqrt((Σx² − n·mean²)/(n−1)). */
export function sampleStd(xs: number[]): number {
  const m = mean(xs);
  let sq = 0;
  for (const x of xs) sq += x * x;
  return Math.sqrt((sq - xs.length * m * m) / (xs.length - 1));
}
