// Arguments and checks shared by several commands.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ArgsDef } from "citty";
import { errorCode, errorMessage, UsageError } from "../util/errors";

export const configArg = {
  config: {
    type: "string",
    alias: "c",
    description: "Config file (default: $AOD_CONFIG, then /etc/aod/config.yaml, then the embedded default)",
    valueHint: "FILE",
  },
} as const satisfies ArgsDef;

export const jsonArg = {
  json: { type: "boolean", description: "Print JSON instead of text", default: false },
} as const satisfies ArgsDef;

/** A bundle named on the command line (`aod bundles show|verify|redact FILE`). */
export const bundleFileArg = {
  file: {
    type: "positional",
    required: true,
    description: "Bundle path, or a file name (here, else in the bundle directory)",
    valueHint: "FILE",
  },
} as const satisfies ArgsDef;

/**
 * A path as given (it has a "/" or names a file here), else a file name in
 * <aod_output_dir>/batches of the config (loaded only then: the registry is
 * heavy for a path).
 */
export async function bundlePath(file: string, config?: string): Promise<string> {
  if (file.includes("/") || existsSync(file)) return file;
  const [{ loadConfig }, { BATCHES }] = await Promise.all([import("../registry"), import("../bundle/output-dir")]);
  return join(loadConfig(config).aod_output_dir, BATCHES, file);
}

/** A bundle's members by name; an unreadable or garbage file is a usage error (exit 2) naming it. */
export async function readBundleMembers(path: string): Promise<Map<string, Uint8Array>> {
  const { readMembers } = await import("../bundle/read");
  try {
    return await readMembers(path);
  } catch (e) {
    throw new UsageError(`cannot read bundle ${path}: ${errorCode(e) === "ENOENT" ? "no such file" : errorMessage(e)}`);
  }
}

/** Help text epilogue: examples, one per line. */
export function examples(...lines: string[]): string {
  return `\n\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}`;
}

export interface NumberArgLimits {
  /** Lowest accepted value (inclusive). */
  min?: number;
  /** Accepted values are above this (exclusive), e.g. 0 for "positive". */
  above?: number;
  /** Highest accepted value (inclusive). */
  max?: number;
  /** Whole numbers only. */
  int?: boolean;
  /** What the number counts, for the message: "seconds", "minutes". */
  unit?: string;
}

/**
 * A number argument or option; undefined when absent or empty (the caller
 * picks the default). `name` as the user typed it: "--pid", "INTERVAL_SEC".
 * Throws a UsageError saying what was expected: `--pid expects a whole
 * number ≥ 1, got "abc"`.
 */
export function parseNumberArg(
  name: string,
  value: string | undefined,
  limits: NumberArgLimits = {},
): number | undefined {
  if (value === undefined || value === "") return undefined;
  const { min, above, max, int, unit } = limits;
  const n = value.trim() === "" ? Number.NaN : Number(value);
  const ok =
    Number.isFinite(n) &&
    (!int || Number.isInteger(n)) &&
    (min === undefined || n >= min) &&
    (above === undefined || n > above) &&
    (max === undefined || n <= max);
  if (ok) return n;
  const bounds = [
    min !== undefined ? `≥ ${min}` : "",
    above !== undefined ? `> ${above}` : "",
    max !== undefined ? `≤ ${max}` : "",
  ].filter(Boolean);
  throw new UsageError(
    `${name} expects ${int ? "a whole number" : "a number"}${unit ? ` of ${unit}` : ""}${bounds.length ? ` ${bounds.join(" and ")}` : ""}, got ${JSON.stringify(value)}`,
  );
}
