// Which columns of a measuring CSV `aod compare` looks at, found by name as the
// prototype's range tool did, and how they are labelled.
import { UsageError } from "../util/errors";
import { isAodColumn, isCpuColumn, isDiskColumn, isMemColumn, type PerfTable } from "./csv";

type Role = "cpu" | "mem" | "disk" | "aod" | "other";

export function roleOf(name: string): Role {
  if (isAodColumn(name)) return "aod";
  if (isCpuColumn(name)) return "cpu";
  if (isMemColumn(name)) return "mem";
  if (isDiskColumn(name)) return "disk";
  return "other";
}

/** Axis title with unit for a column. */
export function axisTitle(name: string): string {
  switch (roleOf(name)) {
    case "cpu":
      return "CPU busy (%)";
    case "mem":
      return "Memory used (%)";
    case "disk":
      return "Disk usage (MB)";
  }
  if (/rss|_mb$/i.test(name)) return `${name} (MB)`;
  if (/percent|pct|%/i.test(name)) return `${name} (%)`;
  return name;
}

/** Short panel title for a column. */
export function panelTitle(name: string): string {
  return { cpu: "CPU", mem: "Memory", disk: "Disk usage", aod: name, other: name }[roleOf(name)];
}

const available = (t: PerfTable) => [...t.columns.keys()].join(", ");

/**
 * The columns to compare, as names in A: the one asked for, else the system's
 * CPU and memory columns (system files) or the disk column (disk files).
 */
export function pickColumns(a: PerfTable, asked?: string): string[] {
  if (asked) {
    const name =
      [...a.columns.keys()].find((c) => c === asked) ??
      [...a.columns.keys()].find((c) => c.toLowerCase() === asked.toLowerCase());
    if (!name) throw new UsageError(`${a.path}: no column "${asked}" (columns: ${available(a)})`);
    return [name];
  }
  const names = [...a.columns.keys()];
  const picked =
    a.kind === "disk"
      ? names.filter((n) => roleOf(n) === "disk").slice(0, 1)
      : [names.find((n) => roleOf(n) === "cpu"), names.find((n) => roleOf(n) === "mem")].filter(
          (n): n is string => !!n,
        );
  if (!picked.length) {
    throw new UsageError(
      `${a.path}: no usable columns: no CPU or memory column besides aod's own (columns: ${available(a)})`,
    );
  }
  return picked;
}

/** B's column for A's: the same name (any case), else the first of the same role. */
export function matchColumn(name: string, b: PerfTable): string {
  const names = [...b.columns.keys()];
  const role = roleOf(name);
  const found =
    names.find((n) => n === name) ??
    names.find((n) => n.toLowerCase() === name.toLowerCase()) ??
    (role !== "other" && role !== "aod" ? names.find((n) => roleOf(n) === role) : undefined);
  if (!found) throw new UsageError(`${b.path}: no column matching "${name}" (columns: ${available(b)})`);
  return found;
}

/** aod's own columns (AOD_*) of a table. */
export function aodColumns(t: PerfTable): string[] {
  return [...t.columns.keys()].filter(isAodColumn);
}
