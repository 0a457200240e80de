// Kernel modules the protocols' tools follow: whether one is loaded and live,
// which load it is, and its symbols in /proc/kallsyms. One answer for `aod
// check` and the tools alike.
import { existsSync, readFileSync } from "node:fs";

/**
 * cifs is loaded and initialised: /sys/module/cifs/initstate says "live" (it
 * appears while the module is still loading, before its BTF and tracepoints
 * are registered); a built-in cifs has no initstate but a parameters dir.
 */
export function cifsLoaded(): boolean {
  try {
    return readFileSync("/sys/module/cifs/initstate", "utf8").trim() === "live";
  } catch {
    return (
      existsSync("/sys/module/cifs/parameters") &&
      !existsSync("/sys/module/cifs/initstate") &&
      existsSync("/proc/fs/cifs")
    );
  }
}

/** Identifies one load of the cifs module (its .text address; "" when unreadable, e.g. not root). */
export function cifsInstance(): string {
  try {
    return readFileSync("/sys/module/cifs/sections/.text", "utf8").trim();
  } catch {
    return "";
  }
}

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
