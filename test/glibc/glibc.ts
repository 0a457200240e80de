// Shared by the glibc tests: version arithmetic, objdump parsing, skipping.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { skipReason } from "../helpers";

/** The oldest glibc aod supports: the floor of Bun's own runtime. */
export const FLOOR = "2.17";

/** Compares glibc versions ("2.2.5" < "2.17" < "2.34"). */
export function cmpVersion(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/**
 * Like skipReason (prints why and returns it), but under CI=true a test that
 * cannot run is a failure, not a skip.
 */
export function skipUnlessCI(reasons: Record<string, boolean>): string | undefined {
  const why = skipReason(reasons);
  if (why && process.env.CI === "true") throw new Error(`cannot skip with CI=true: ${why}`);
  return why;
}

export interface DynSym {
  name: string;
  version: string; // "2.34" (GLIBC_ stripped)
  defined: boolean;
  hidden: boolean; // non-default version: "(GLIBC_2.2.5)"
}

/** The GLIBC_x.y-versioned dynamic symbols of an ELF file (objdump -T). */
export function glibcSymbols(file: string): DynSym[] {
  const r = Bun.spawnSync(["objdump", "-T", file], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`objdump -T ${file}: ${r.stderr.toString()}`);
  const out: DynSym[] = [];
  for (const line of r.stdout.toString().split("\n")) {
    const m = line.match(/\s(\()?GLIBC_([0-9][0-9.]*)\)?\s+(\S+)\s*$/);
    if (!m) continue;
    out.push({ name: m[3]!, version: m[2]!, defined: !line.includes("*UND*"), hidden: !!m[1] });
  }
  return out;
}

/** The highest GLIBC version a file needs, and the symbols that need it. */
export function glibcNeeds(file: string): { max: string; symbols: string[] } {
  const undef = glibcSymbols(file).filter((s) => !s.defined);
  let max = "0";
  for (const s of undef) if (cmpVersion(s.version, max) > 0) max = s.version;
  return { max, symbols: [...new Set(undef.filter((s) => s.version === max).map((s) => s.name))].sort() };
}

/** The host's libc.so.6 (the one objdump should read symbol versions from). */
export function hostLibc(): string | undefined {
  const multiarch = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  return [
    `/lib/${multiarch}/libc.so.6`,
    `/usr/lib/${multiarch}/libc.so.6`,
    "/lib64/libc.so.6",
    "/usr/lib64/libc.so.6",
  ].find(existsSync);
}

export interface FfiImport {
  file: string; // relative to src/
  library: string; // "libc.so.6"
  symbol: string;
}

/**
 * Every symbol aod looks up in a glibc library through bun:ffi: the keys of the
 * object literal passed to dlopen("libc.so.6", {...}) (also libm, libdl,
 * libpthread, librt), in any .ts file under `dir`, worker sources in template
 * strings included.
 */
export function ffiGlibcImports(dir: string): FfiImport[] {
  const out: FfiImport[] = [];
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") ? [p] : [];
    });
  const call = /dlopen\(\s*["'`](lib(?:c|m|dl|pthread|rt)\.so\.\d+)["'`]\s*,\s*\{/g;
  for (const path of walk(dir)) {
    const text = readFileSync(path, "utf8");
    for (const m of text.matchAll(call)) {
      // Walk the object literal: keys at depth 1 are the symbols.
      let depth = 1;
      let chunk = ""; // depth-1 text since the last "," or "{"
      for (let i = m.index! + m[0].length; i < text.length && depth > 0; i++) {
        const c = text[i]!;
        if (c === "/" && text[i + 1] === "/") i = text.indexOf("\n", i) - 1;
        else if (c === "/" && text[i + 1] === "*") i = text.indexOf("*/", i) + 1;
        else if ("{[(".includes(c)) depth++;
        else if ("}])".includes(c)) depth--;
        else if (depth === 1 && c === ",") chunk = "";
        else if (depth === 1 && c === ":") {
          const key = chunk.match(/["']?([\w$]+)["']?\s*$/);
          if (key) out.push({ file: path.slice(dir.length + 1), library: m[1]!, symbol: key[1]! });
          chunk = "";
        } else if (depth === 1) chunk += c;
      }
    }
  }
  return out;
}

/** Prints rows as an aligned table. */
export function printTable(title: string, header: string[], rows: string[][]): void {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join("  ");
  console.log(`\n${title}\n${fmt(header)}\n${w.map((n) => "-".repeat(n)).join("  ")}\n${rows.map(fmt).join("\n")}`);
}
