// Total size of the files under a directory, for `aod disk`.
import { type Dirent, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Bytes in regular files under `dir` (symlinks not followed), or undefined if `dir` does not exist. */
export function directoryBytes(dir: string): number | undefined {
  try {
    if (!lstatSync(dir).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  let total = 0;
  const walk = (d: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return; // removed meanwhile (retention) or unreadable
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        try {
          total += lstatSync(p).size;
        } catch {
          // deleted between listing and stat
        }
      }
    }
  };
  walk(dir);
  return total;
}
