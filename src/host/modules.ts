// Kernel modules the protocols' tools follow: whether one is loaded and live,
// which load it is, and its symbols in /proc/kallsyms. One answer for `aod
// check` and the tools alike.
import { existsSync, readFileSync } from "node:fs";

/**
 * A module is loaded and initialised: /sys/module/<mod>/initstate says "live"
 * (it appears while the module is still loading, before its BTF and
 * tracepoints are registered); a built-in one has no initstate but a
 * parameters dir (and, for cifs, /proc/fs/cifs).
 */
export function moduleLoaded(mod: string, builtinMarker?: string): boolean {
  try {
    return readFileSync(`/sys/module/${mod}/initstate`, "utf8").trim() === "live";
  } catch {
    return (
      existsSync(`/sys/module/${mod}/parameters`) &&
      !existsSync(`/sys/module/${mod}/initstate`) &&
      (!builtinMarker || existsSync(builtinMarker))
    );
  }
}

/** Identifies one load of a module (its .text address; "" when unreadable, e.g. not root, or absent). */
export function moduleInstance(mod: string): string {
  try {
    return readFileSync(`/sys/module/${mod}/sections/.text`, "utf8").trim();
  } catch {
    return "";
  }
}

export const cifsLoaded = (): boolean => moduleLoaded("cifs", "/proc/fs/cifs");
export const cifsInstance = (): string => moduleInstance("cifs");

/** Symbols of module `mod` in /proc/kallsyms (text symbols only). */
export function moduleSymbols(names: string[], mod = "cifs", text?: string): Set<string> {
  const found = new Set<string>();
  let src: string;
  try {
    src = text ?? readFileSync("/proc/kallsyms", "utf8");
  } catch {
    return found;
  }
  const want = new Set(names);
  const tag = `[${mod}]`;
  for (const line of src.split("\n")) {
    if (!line.endsWith(tag)) continue;
    const parts = line.split(/\s+/);
    if ((parts[1] === "t" || parts[1] === "T") && want.has(parts[2]!)) found.add(parts[2]!);
  }
  return found;
}
