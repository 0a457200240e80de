// The runtime libraries embedded in the binary, and how they are loaded without
// touching the host's copies or leaving files behind.
//
// Each library is written into a memfd and dlopen()ed as /proc/self/fd/N. Order
// matters: a DT_NEEDED entry is satisfied by an already loaded soname, so libz
// goes before libelf, libelf before libbpf; in another order the host's copy is
// loaded silently (or the load fails on a host without one).
import { dlopen, type FFIFunction } from "bun:ffi";
import { chmodSync, closeSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeSync } from "node:fs";
import libbpfPath from "../../build/lib/libbpf.so.1" with { type: "file" };
import libelfPath from "../../build/lib/libelf.so.1" with { type: "file" };
import libzPath from "../../build/lib/libz.so.1" with { type: "file" };
import libzstdPath from "../../build/lib/libzstd.so.1" with { type: "file" };
import { errorMessage } from "../util/errors";
import { type NativeSymbols, nativeSymbols } from "./ffi";
import { MFD_CLOEXEC, MFD_EXEC, memfdCreate, strerror } from "./libc";

export const EMBEDDED_LIBS = {
  "libz.so.1": libzPath,
  "libelf.so.1": libelfPath,
  "libbpf.so.1": libbpfPath,
  "libzstd.so.1": libzstdPath,
} as const;
export type EmbeddedLib = keyof typeof EMBEDDED_LIBS;

const NEEDS: Record<EmbeddedLib, EmbeddedLib[]> = {
  "libz.so.1": [],
  "libelf.so.1": ["libz.so.1"],
  "libbpf.so.1": ["libz.so.1", "libelf.so.1"],
  "libzstd.so.1": [],
};

// One symbol per library, to dlopen() it (bun:ffi wants at least one) and to report its version.
const VERSION_SYMBOL: Record<EmbeddedLib, string> = {
  "libz.so.1": "zlibVersion",
  "libelf.so.1": "elf_version",
  "libbpf.so.1": "libbpf_version_string",
  "libzstd.so.1": "ZSTD_versionString",
};

const loaded = new Map<EmbeddedLib, string>(); // name -> path it was loaded from
const EINVAL = 22;
const EACCES = 13;
let fallbackDir: string | undefined;

/** A path dlopen() can load the library's bytes from. */
function materialize(name: EmbeddedLib): string {
  const bytes = readFileSync(EMBEDDED_LIBS[name]);
  let fd = memfdCreate(`aod-${name}`, MFD_CLOEXEC | MFD_EXEC);
  if (fd === -EINVAL) fd = memfdCreate(`aod-${name}`, MFD_CLOEXEC); // kernels < 6.3 have no MFD_EXEC
  if (fd >= 0) {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    // The fd stays open for the life of the process: the mapping refers to it by path.
    return `/proc/self/fd/${fd}`;
  }
  if (fd !== -EACCES && fd !== -1 /* EPERM */) throw new Error(`memfd_create(${name}): ${strerror(-fd)}`);
  // vm.memfd_noexec=2 forbids executable memfds: use a private directory that
  // is not on a noexec filesystem, and remove it as soon as the library is mapped.
  fallbackDir ??= privateDir();
  const path = `${fallbackDir}/${name}`;
  const out = require("node:fs").openSync(path, "wx", 0o700);
  writeSync(out, bytes);
  closeSync(out);
  return path;
}

function privateDir(): string {
  for (const base of ["/run", "/var/lib", "/dev/shm", process.env.TMPDIR || "/tmp"]) {
    try {
      mkdirSync(base, { recursive: true });
      const d = mkdtempSync(`${base}/.aod-lib-`);
      chmodSync(d, 0o700);
      process.once("exit", () => rmSync(d, { recursive: true, force: true }));
      return d;
    } catch {}
  }
  throw new Error("no writable place to load embedded libraries from (memfd refused and no writable directory)");
}

/** Loads an embedded library (and what it needs first) and returns its FFI symbols. */
export function openEmbedded<T extends Record<string, FFIFunction>>(name: EmbeddedLib, symbols: T): NativeSymbols<T> {
  for (const dep of NEEDS[name]) ensureLoaded(dep);
  ensureLoaded(name);
  return nativeSymbols(dlopen(loaded.get(name)!, symbols));
}

function ensureLoaded(name: EmbeddedLib): void {
  if (loaded.has(name)) return;
  for (const dep of NEEDS[name]) ensureLoaded(dep);
  const path = materialize(name);
  // Maps it under its soname; later dlopens of the same path share the mapping.
  try {
    dlopen(path, { [VERSION_SYMBOL[name]]: { args: [], returns: "ptr" } });
  } catch (e) {
    throw new Error(`cannot load the embedded ${name}: ${errorMessage(e).replaceAll(`${path}: `, "")}`);
  }
  loaded.set(name, path);
}
