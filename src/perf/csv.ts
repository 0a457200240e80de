// Reads the measuring CSVs (aod's and the prototype's): header, kind, time in
// relative seconds and numeric columns. Any problem is a UsageError naming
// `file:line`.
import { readFileSync } from "node:fs";
import { errorCode, UsageError } from "../util/errors";
import { parseTimestamp } from "./time";

export type PerfKind = "system" | "disk";

export interface PerfTable {
  path: string;
  kind: PerfKind;
  header: string[];
  timeColumn: string;
  /** Seconds since the first row. */
  t: Float64Array;
  /** Numeric columns by name; NaN where a cell is empty (e.g. aod not running). */
  columns: Map<string, Float64Array>;
}

/** Columns aod adds for its own process; never taken for the system's. */
export const isAodColumn = (name: string) => /^aod_/i.test(name);
export const isCpuColumn = (name: string) => !isAodColumn(name) && /cpu|processor/i.test(name);
export const isMemColumn = (name: string) => !isAodColumn(name) && /mem/i.test(name); // also "memory"
export const isDiskColumn = (name: string) => /disk/i.test(name);
const isTimeColumn = (name: string) => /^(timestamp|time|date|datetime)$/i.test(name.trim());

/** Splits one CSV line; handles double-quoted fields as Python's csv module writes them. */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    if (errorCode(e) === "ENOENT") throw new UsageError(`${path}: no such file`);
    if (errorCode(e) === "EISDIR") throw new UsageError(`${path}: is a directory, not a CSV file`);
    if (errorCode(e) === "EACCES") throw new UsageError(`${path}: permission denied`);
    throw new UsageError(`${path}: cannot read: ${errorCode(e) ?? e}`);
  }
}

/** Parses the text of a measuring CSV. `path` is only used in messages. */
export function parsePerfCsv(text: string, path: string): PerfTable {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  while (lines.length && lines[lines.length - 1]!.trim() === "") lines.pop();
  if (!lines.length) throw new UsageError(`${path}: empty file`);

  const header = splitCsvLine(lines[0]!).map((h) => h.trim());
  const timeIdx = header.findIndex(isTimeColumn);
  const ti = Math.max(timeIdx, 0);
  const valueIdx = header.map((_, i) => i).filter((i) => i !== ti && header[i] !== "");
  const names = valueIdx.map((i) => header[i]!);
  const kind: PerfKind | undefined = names.some(isDiskColumn)
    ? "disk"
    : names.some((n) => isCpuColumn(n) || isMemColumn(n) || isAodColumn(n))
      ? "system"
      : undefined;
  if (!kind) {
    throw new UsageError(
      `${path}: no usable columns in header "${lines[0]!.trim()}" (expected CPU/memory columns as aod monitor writes, or Disk_Usage_MB as aod disk writes)`,
    );
  }
  if (lines.length < 2) throw new UsageError(`${path}: no data rows after the header`);

  const n = lines.length - 1;
  const t = new Float64Array(n);
  const cols = valueIdx.map(() => new Float64Array(n));
  let t0 = 0;
  for (let r = 0; r < n; r++) {
    const lineNo = r + 2;
    const raw = lines[r + 1]!;
    if (raw.trim() === "") throw new UsageError(`${path}:${lineNo}: empty row`);
    const f = splitCsvLine(raw);
    if (f.length !== header.length) {
      throw new UsageError(`${path}:${lineNo}: expected ${header.length} fields as in the header, found ${f.length}`);
    }
    const stamp = parseTimestamp(f[ti]!);
    if (stamp === undefined) {
      throw new UsageError(
        `${path}:${lineNo}: cannot parse timestamp "${f[ti]}" (expected YYYY-MM-DD HH:MM:SS or ISO 8601)`,
      );
    }
    if (r === 0) t0 = stamp;
    t[r] = stamp - t0;
    for (let c = 0; c < valueIdx.length; c++) {
      const cell = f[valueIdx[c]!]!.trim();
      const v = cell === "" ? NaN : Number(cell);
      if (cell !== "" && !Number.isFinite(v)) {
        throw new UsageError(`${path}:${lineNo}: ${names[c]} value "${cell}" is not a number`);
      }
      cols[c]![r] = v;
    }
  }
  return {
    path,
    kind,
    header,
    timeColumn: header[ti]!,
    t,
    columns: new Map(names.map((name, c) => [name, cols[c]!])),
  };
}

export function loadPerfCsv(path: string): PerfTable {
  return parsePerfCsv(readText(path), path);
}
