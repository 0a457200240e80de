// The glibc floor: dist/aod, every library it embeds, and every libc function
// it calls through bun:ffi must work on glibc 2.17 (Bun's own floor), so the one
// file runs on RHEL 8, Ubuntu 20.04, Debian 11, SLES 15 and newer.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AOD, ROOT, tempDir } from "../helpers";
import {
  cmpVersion,
  FLOOR,
  ffiGlibcImports,
  glibcNeeds,
  glibcSymbols,
  hostLibc,
  printTable,
  skipUnlessCI,
} from "./glibc";

const LIBS = ["libz.so.1", "libelf.so.1", "libbpf.so.1", "libzstd.so.1"];
const LIBDIR = join(ROOT, "build/lib");

describe(`glibc floor ${FLOOR}`, () => {
  test("dist/aod and its embedded libraries need no GLIBC newer than the floor", () => {
    if (
      skipUnlessCI({
        "dist/aod not built (make build)": !existsSync(AOD),
        "objdump not installed (binutils)": !Bun.which("objdump"),
      })
    )
      return;
    const aod = readFileSync(AOD);
    const rows: string[][] = [];
    const over: string[] = [];
    for (const [name, file] of [["dist/aod", AOD], ...LIBS.map((l) => [l, join(LIBDIR, l)])] as const) {
      expect(existsSync(file)).toBe(true);
      // What is audited must be what is embedded: build/lib/X byte for byte inside dist/aod.
      const embedded =
        name === "dist/aod" ? "-" : aod.indexOf(readFileSync(file)) >= 0 ? "yes" : "NO (stale dist/aod?)";
      const { max, symbols } = glibcNeeds(file);
      const ok = cmpVersion(max, FLOOR) <= 0;
      if (!ok) over.push(`${name} needs GLIBC_${max} (${symbols.join(", ")})`);
      rows.push([
        name,
        `GLIBC_${max}`,
        ok ? "ok" : `> ${FLOOR}`,
        embedded,
        symbols.slice(0, 6).join(" ") + (symbols.length > 6 ? " ..." : ""),
      ]);
    }
    printTable(`glibc needed (floor ${FLOOR}):`, ["file", "max", "", "embedded", "symbols at max"], rows);
    expect(rows.filter((r) => r[3]!.startsWith("NO")).map((r) => r[0])).toEqual([]);
    expect(over).toEqual([]);
  });

  test("every libc function called through bun:ffi exists in glibc <= the floor", () => {
    const libc = hostLibc();
    if (skipUnlessCI({ "objdump not installed (binutils)": !Bun.which("objdump"), "no libc.so.6 found": !libc }))
      return;
    const imports = ffiGlibcImports(join(ROOT, "src"));
    // The scan must see the known tables (a refactor must not hide them from it).
    expect(imports.some((i) => i.file === "native/libc.ts" && i.symbol === "syscall")).toBe(true);
    expect(imports.some((i) => i.file === "tools/ring-waiter.ts" && i.symbol === "epoll_wait")).toBe(true); // the Worker's
    expect(imports.some((i) => i.file === "native/libc.ts" && i.symbol === "pthread_create")).toBe(true);

    // Per symbol, the oldest version the host's libc.so.6 defines (the symbol
    // must exist at the floor) and its default version, the one dlsym() returns.
    // A default newer than the floor means older glibc gives another
    // implementation (fmemopen@2.22) or none in libc.so.6 at all (pthread_create
    // was in libpthread until 2.34, and dlopen("libc.so.6") does not search it).
    const oldest = new Map<string, string>();
    const dflt = new Map<string, string>();
    for (const s of glibcSymbols(libc!)) {
      if (!s.defined) continue;
      const o = oldest.get(s.name);
      if (!o || cmpVersion(s.version, o) < 0) oldest.set(s.name, s.version);
      const d = dflt.get(s.name);
      if (!s.hidden && (!d || cmpVersion(s.version, d) > 0)) dflt.set(s.name, s.version);
    }
    const bySymbol = new Map<string, Set<string>>();
    // Resolved through libpthread.so.0: before 2.34 its own (old) default version,
    // since 2.34 libc's current one: only the oldest version must be at the floor.
    const viaPthread = new Set(imports.filter((i) => i.library === "libpthread.so.0").map((i) => i.symbol));
    for (const i of imports) {
      // libpthread.so.0's functions moved into libc.so.6 in 2.34 with their versions,
      // so libc.so.6's table answers for both; other libraries would need their own.
      expect(["libc.so.6", "libpthread.so.0"]).toContain(i.library);
      if (!bySymbol.has(i.symbol)) bySymbol.set(i.symbol, new Set());
      bySymbol.get(i.symbol)!.add(i.file);
    }
    const rows: string[][] = [];
    const bad: string[] = [];
    for (const [sym, files] of [...bySymbol].sort(([a], [b]) => a.localeCompare(b))) {
      const v = oldest.get(sym);
      const d = dflt.get(sym);
      let why = "";
      if (v === undefined) why = "not in libc.so.6";
      else if (cmpVersion(v, FLOOR) > 0) why = `only since GLIBC_${v}`;
      else if (!viaPthread.has(sym) && (d === undefined || cmpVersion(d, FLOOR) > 0))
        why = `default version ${d ? `GLIBC_${d}` : "none"} > ${FLOOR}`;
      if (why) bad.push(`${sym}: ${why}`);
      rows.push([
        sym,
        v ? `GLIBC_${v}` : "missing",
        d ? `GLIBC_${d}` : "-",
        why ? `FAIL ${why}` : "ok",
        [...files].join(" "),
      ]);
    }
    printTable(
      `libc.so.6 functions called through bun:ffi (oldest version in ${libc}):`,
      ["symbol", "oldest", "default", "", "used in"],
      rows,
    );
    expect(bad).toEqual([]);
  });

  test("the bun:ffi scan reads every key of a dlopen table, and only those", () => {
    const dir = tempDir("aod-ffi-scan-");
    mkdirSync(join(dir, "sub"));
    writeFileSync(
      join(dir, "sub/a.ts"),
      `const { symbols } = dlopen("libc.so.6", {
  // not_a_key: comments are skipped
  memfd_create: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  "pthread_create": { args: [], returns: "i32" }, getpid: {
    args: [], returns: FFIType.i32 },
});
dlopen(path, { elf_version: { args: [], returns: "u32" } });
const W = \`dlopen("libc.so.6", { epoll_wait: { args: [FFIType.i32], returns: FFIType.i32 } });\`;`,
    );
    expect(ffiGlibcImports(dir)).toEqual([
      { file: "sub/a.ts", library: "libc.so.6", symbol: "memfd_create" },
      { file: "sub/a.ts", library: "libc.so.6", symbol: "pthread_create" },
      { file: "sub/a.ts", library: "libc.so.6", symbol: "getpid" },
      { file: "sub/a.ts", library: "libc.so.6", symbol: "epoll_wait" },
    ]);
  });
});
