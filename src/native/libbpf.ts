// Typed bun:ffi bindings for the part of libbpf aod uses, with ownership:
// a BpfObject owns its programs' links and its own handle; close() frees all,
// and open objects are closed on exit (normal, signal or exception).
import { FFIType, JSCallback, type Pointer, ptr, read, toArrayBuffer } from "bun:ffi";
import { log } from "../log";
import { openEmbedded } from "./embedded-libs";
import { NativeError } from "./errors";
import { cstr, errno, libc } from "./libc";

const { ptr: P, i32, u32, u64, bool, cstring, void: v } = FFIType;
const lib = openEmbedded("libbpf.so.1", {
  libbpf_version_string: { args: [], returns: cstring },
  libbpf_set_print: { args: [P], returns: P },
  libbpf_num_possible_cpus: { args: [], returns: i32 },
  libbpf_strerror: { args: [i32, P, u64], returns: i32 },
  libbpf_probe_bpf_map_type: { args: [i32, P], returns: i32 },
  libbpf_probe_bpf_prog_type: { args: [i32, P], returns: i32 },
  bpf_object__open_mem: { args: [P, u64, P], returns: P },
  bpf_object__load: { args: [P], returns: i32 },
  bpf_object__close: { args: [P], returns: v },
  bpf_object__btf: { args: [P], returns: P },
  bpf_object__find_program_by_name: { args: [P, cstring], returns: P },
  bpf_object__next_program: { args: [P, P], returns: P },
  bpf_object__find_map_by_name: { args: [P, cstring], returns: P },
  bpf_program__name: { args: [P], returns: cstring },
  bpf_program__set_autoload: { args: [P, bool], returns: i32 },
  bpf_program__autoload: { args: [P], returns: bool },
  bpf_program__fd: { args: [P], returns: i32 },
  bpf_program__attach: { args: [P], returns: P },
  bpf_program__attach_tracepoint: { args: [P, cstring, cstring], returns: P },
  bpf_program__attach_raw_tracepoint: { args: [P, cstring], returns: P },
  bpf_program__attach_kprobe: { args: [P, bool, cstring], returns: P },
  bpf_program__set_attach_target: { args: [P, i32, cstring], returns: i32 },
  bpf_link__destroy: { args: [P], returns: i32 },
  bpf_map__fd: { args: [P], returns: i32 },
  bpf_map__reuse_fd: { args: [P, i32], returns: i32 },
  bpf_map__set_max_entries: { args: [P, u32], returns: i32 },
  bpf_map__max_entries: { args: [P], returns: u32 },
  bpf_map__value_size: { args: [P], returns: u32 },
  bpf_map__key_size: { args: [P], returns: u32 },
  bpf_map__initial_value: { args: [P, P], returns: P },
  bpf_map_update_elem: { args: [i32, P, P, u64], returns: i32 },
  bpf_map_lookup_elem: { args: [i32, P, P], returns: i32 },
  bpf_map_get_next_key: { args: [i32, P, P], returns: i32 },
  bpf_map_lookup_batch: { args: [i32, P, P, P, P, P, P], returns: i32 },
  bpf_map_delete_elem: { args: [i32, P], returns: i32 },
  btf__find_by_name_kind: { args: [P, cstring, u32], returns: i32 },
  btf__type_by_id: { args: [P, u32], returns: P },
  btf__name_by_offset: { args: [P, u32], returns: cstring },
  btf__load_vmlinux_btf: { args: [], returns: P },
  btf__load_module_btf: { args: [cstring, P], returns: P },
  btf__free: { args: [P], returns: v },
});

export const libbpfVersion = (): string => String(lib.libbpf_version_string());

/** libbpf's message for a negative error code it returned. */
function libbpfMessage(err: number): string {
  const buf = Buffer.alloc(256);
  lib.libbpf_strerror(err, buf, BigInt(buf.length));
  return buf.toString("utf8", 0, buf.indexOf(0));
}

/** Throws for an int result < 0 (libbpf returns -errno). */
function check(call: string, rc: number): number {
  if (rc < 0) throw new NativeError(call, -rc, `${libbpfMessage(rc)}${explain()}`);
  return rc;
}
/** libbpf's warnings since the last reset: they say why a load or attach failed. */
function explain(): string {
  if (!warnings.length) return "";
  const lines = warnings
    .splice(0)
    .flatMap((w) => w.split("\n"))
    .filter((l) => l.trim());
  return `\n  libbpf: ${lines.slice(-12).join("\n  libbpf: ")}`;
}
/** Throws for a NULL pointer result (libbpf sets errno). */
function checkPtr(call: string, p: Pointer | null): Pointer {
  if (!p) {
    const e = errno() || 22;
    throw new NativeError(call, e, `${libbpfMessage(-e)}${explain()}`);
  }
  return p;
}

// libbpf's own messages go to aod's log (debug: it is chatty); its warnings are
// kept (bounded) to explain the next failure.
const warnings: string[] = [];
// Large enough for the end of a verifier log (where it says why), which libbpf prints as one message.
const printBuf = Buffer.alloc(1 << 16);
const printer = new JSCallback(
  (level: number, fmt: Pointer, ap: Pointer) => {
    const n = libc.vsnprintf(printBuf, BigInt(printBuf.length), fmt, ap);
    const text = printBuf.toString("utf8", 0, Math.min(Math.max(n, 0), printBuf.length - 1)).trimEnd();
    if (level === 0 /* LIBBPF_WARN */) {
      warnings.push(text);
      if (warnings.length > 64) warnings.shift();
    }
    log.debug(`libbpf: ${text}`);
    return 0;
  },
  { args: [i32, P, P], returns: i32 },
);
lib.libbpf_set_print(printer.ptr);

export const numPossibleCpus = (): number => check("libbpf_num_possible_cpus", lib.libbpf_num_possible_cpus());

export const BPF_MAP_TYPE_RINGBUF = 27;
export const BPF_PROG_TYPE_TRACEPOINT = 5;
export const BPF_PROG_TYPE_KPROBE = 2;
export const BPF_PROG_TYPE_RAW_TRACEPOINT = 17;
export const BPF_PROG_TYPE_TRACING = 26;
/** 1 supported, 0 not, <0 could not tell. */
export const probeMapType = (t: number) => lib.libbpf_probe_bpf_map_type(t, null);
export const probeProgType = (t: number) => lib.libbpf_probe_bpf_prog_type(t, null);

// BTF kinds and record sizes (include/uapi/linux/btf.h).
const BTF_KIND_PTR = 2;
const BTF_KIND_STRUCT = 4;
const BTF_KIND_VOLATILE = 9;
const BTF_KIND_CONST = 10;
const BTF_KIND_RESTRICT = 11;
const BTF_KIND_FUNC = 12;
const BTF_KIND_FUNC_PROTO = 13;
const BTF_KIND_DATASEC = 15;
const BTF_KIND_TYPE_TAG = 18;
const BTF_TYPE_SIZE = 12;
const btfKindVlen = (p: Pointer) => {
  const info = read.u32(p, 4);
  return { kind: (info >>> 24) & 0x1f, vlen: info & 0xffff, kflag: info >>> 31 };
};

export interface StructLayout {
  size: number;
  offsets: Record<string, number>;
}

/** Field offsets (bytes) of a struct as recorded in a BTF blob. */
function structLayoutIn(btf: Pointer, name: string): StructLayout | undefined {
  const id = lib.btf__find_by_name_kind(btf, cstr(name), BTF_KIND_STRUCT);
  if (id < 0) return undefined;
  const t = checkPtr("btf__type_by_id", lib.btf__type_by_id(btf, id));
  const { vlen, kflag } = btfKindVlen(t);
  const offsets: Record<string, number> = {};
  for (let i = 0; i < vlen; i++) {
    const m = BTF_TYPE_SIZE + i * 12;
    const bits = read.u32(t, m + 8);
    offsets[String(lib.btf__name_by_offset(btf, read.u32(t, m)))] = (kflag ? bits & 0xffffff : bits) / 8;
  }
  return { size: read.u32(t, 8), offsets };
}

const openObjects = new Set<BpfObject>();
process.once("exit", () => {
  for (const o of openObjects) o.close();
});

export class BpfLink {
  constructor(
    private handle: Pointer | null,
    readonly description: string,
  ) {}
  destroy(): void {
    if (this.handle) lib.bpf_link__destroy(this.handle);
    this.handle = null;
  }
}

export class BpfMap {
  constructor(
    // biome-ignore lint/correctness/noUnusedPrivateClassMembers: held, never read: the handle belongs to the object, which must outlive the map
    private readonly owner: BpfObject,
    readonly handle: Pointer,
    readonly name: string,
  ) {}
  get fd(): number {
    return check(`bpf_map__fd(${this.name})`, lib.bpf_map__fd(this.handle));
  }
  get maxEntries(): number {
    return lib.bpf_map__max_entries(this.handle);
  }
  get valueSize(): number {
    return lib.bpf_map__value_size(this.handle);
  }
  /** Makes this map (its object not yet loaded) use the kernel map `from` already created by another object. */
  reuse(from: BpfMap): void {
    const rc = lib.bpf_map__reuse_fd(this.handle, from.fd);
    if (rc < 0) throw new NativeError(`bpf_map__reuse_fd(${this.name})`, -rc);
  }
  setMaxEntries(n: number): void {
    check(`bpf_map__set_max_entries(${this.name})`, lib.bpf_map__set_max_entries(this.handle, n));
  }
  update(key: NodeJS.TypedArray, value: NodeJS.TypedArray, flags = 0): void {
    check(`bpf_map_update_elem(${this.name})`, lib.bpf_map_update_elem(this.fd, key, value, BigInt(flags)));
  }
  /** Fills `value`; false when the key is absent. */
  lookup(key: NodeJS.TypedArray, value: NodeJS.TypedArray): boolean {
    const rc = lib.bpf_map_lookup_elem(this.fd, key, value);
    if (rc === -2 /* ENOENT */) return false;
    check(`bpf_map_lookup_elem(${this.name})`, rc);
    return true;
  }
  /**
   * Every entry of a hash map in a few system calls (BPF_MAP_LOOKUP_BATCH,
   * 5.6+): keys and values packed, `count` of them; undefined when the kernel
   * or map type has no batch lookup (then: keys() and lookup()).
   */
  entries(keySize: number, valueSize: number): { keys: Uint8Array; values: Uint8Array; count: number } | undefined {
    const max = this.maxEntries;
    const keys = new Uint8Array(max * keySize);
    const values = new Uint8Array(max * valueSize);
    const token = new Uint8Array(Math.max(keySize, 8)); // opaque position (a bucket index for hash maps)
    const next = new Uint8Array(token.length);
    const count = new Uint32Array(1);
    let total = 0;
    let first = true;
    while (total < max) {
      count[0] = max - total;
      const rc = lib.bpf_map_lookup_batch(
        this.fd,
        first ? null : token,
        next,
        keys.subarray(total * keySize),
        values.subarray(total * valueSize),
        count,
        null,
      );
      if (rc === -2 /* ENOENT: that was the last batch */) return { keys, values, count: total + count[0]! };
      if (rc < 0) return undefined; // EINVAL, ENOTSUPP: no batch lookup for this map here
      total += count[0]!;
      if (count[0] === 0) break;
      token.set(next);
      first = false;
    }
    return { keys, values, count: total };
  }

  /** Every key of a hash map, `keySize` bytes each (a snapshot: entries may come and go meanwhile). */
  keys(keySize: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let prev: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(keySize);
      const rc = lib.bpf_map_get_next_key(this.fd, prev, next);
      if (rc === -2 /* ENOENT: no more */) return out;
      check(`bpf_map_get_next_key(${this.name})`, rc);
      out.push(next);
      prev = next;
    }
  }
  delete(key: NodeJS.TypedArray): boolean {
    const rc = lib.bpf_map_delete_elem(this.fd, key);
    if (rc === -2) return false;
    check(`bpf_map_delete_elem(${this.name})`, rc);
    return true;
  }
}

export class BpfProgram {
  constructor(
    private readonly owner: BpfObject,
    readonly handle: Pointer,
    readonly name: string,
  ) {}
  setAutoload(on: boolean): void {
    check(`bpf_program__set_autoload(${this.name})`, lib.bpf_program__set_autoload(this.handle, on));
  }
  get autoload(): boolean {
    return lib.bpf_program__autoload(this.handle);
  }
  setAttachTarget(func: string): void {
    check(
      `bpf_program__set_attach_target(${this.name}, ${func})`,
      lib.bpf_program__set_attach_target(this.handle, 0, cstr(func)),
    );
  }
  /** Attaches as declared by the program's SEC() name. */
  attach(): BpfLink {
    return this.owner.adopt(
      new BpfLink(checkPtr(`bpf_program__attach(${this.name})`, lib.bpf_program__attach(this.handle)), this.name),
    );
  }
  attachTracepoint(category: string, event: string): BpfLink {
    const p = lib.bpf_program__attach_tracepoint(this.handle, cstr(category), cstr(event));
    return this.owner.adopt(new BpfLink(checkPtr(`attach tracepoint ${category}:${event}`, p), `${category}:${event}`));
  }
  attachKprobe(func: string, retprobe = false): BpfLink {
    const p = lib.bpf_program__attach_kprobe(this.handle, retprobe, cstr(func));
    return this.owner.adopt(new BpfLink(checkPtr(`attach ${retprobe ? "kretprobe" : "kprobe"} ${func}`, p), func));
  }
}

export class BpfObject {
  private handle: Pointer | null;
  private readonly links: BpfLink[] = [];
  private loaded = false;

  private constructor(
    handle: Pointer,
    // biome-ignore lint/correctness/noUnusedPrivateClassMembers: held, never read: libbpf reads these bytes until load, so they must stay alive
    private readonly bytes: Uint8Array,
    readonly name: string,
  ) {
    this.handle = handle;
    openObjects.add(this);
  }

  /** Opens an ELF BPF object held in memory (e.g. embedded in the binary). */
  static openMem(bytes: Uint8Array, name: string): BpfObject {
    const copy = new Uint8Array(bytes); // own, stable buffer
    // struct bpf_object_open_opts up to object_name; libbpf accepts a shorter sz.
    const nameBuf = cstr(name);
    const opts = new BigUint64Array([16n, BigInt(ptr(nameBuf))]);
    const h = lib.bpf_object__open_mem(copy, BigInt(copy.length), opts);
    return new BpfObject(checkPtr(`open BPF object ${name}`, h), copy, name);
  }

  private get h(): Pointer {
    if (!this.handle) throw new Error(`BPF object ${this.name} is closed`);
    return this.handle;
  }

  program(name: string): BpfProgram {
    return new BpfProgram(
      this,
      checkPtr(`find program ${name} in ${this.name}`, lib.bpf_object__find_program_by_name(this.h, cstr(name))),
      name,
    );
  }

  programs(): BpfProgram[] {
    const out: BpfProgram[] = [];
    for (let p = lib.bpf_object__next_program(this.h, null); p; p = lib.bpf_object__next_program(this.h, p))
      out.push(new BpfProgram(this, p, String(lib.bpf_program__name(p))));
    return out;
  }

  map(name: string): BpfMap {
    return new BpfMap(
      this,
      checkPtr(`find map ${name} in ${this.name}`, lib.bpf_object__find_map_by_name(this.h, cstr(name))),
      name,
    );
  }

  /** Layout of a struct in this object's BTF (to check a decoder against the C header). */
  structLayout(name: string): StructLayout | undefined {
    const btf = lib.bpf_object__btf(this.h);
    return btf ? structLayoutIn(btf, name) : undefined;
  }

  /**
   * Sets `const volatile` globals before load. Offsets come from the object's
   * BTF (the .rodata DATASEC), so no generated skeleton is needed.
   */
  setRodata(values: Record<string, number | bigint | boolean | ArrayBufferView>): void {
    if (this.loaded) throw new Error(`${this.name}: rodata can only be set before load`);
    const btf = checkPtr("bpf_object__btf", lib.bpf_object__btf(this.h));
    const secId = check(
      `find .rodata in ${this.name}`,
      lib.btf__find_by_name_kind(btf, cstr(".rodata"), BTF_KIND_DATASEC),
    );
    const sec = checkPtr("btf__type_by_id", lib.btf__type_by_id(btf, secId));
    const vars = new Map<string, { offset: number; size: number }>();
    for (let i = 0, { vlen } = btfKindVlen(sec); i < vlen; i++) {
      const m = BTF_TYPE_SIZE + i * 12;
      const varType = checkPtr("btf__type_by_id", lib.btf__type_by_id(btf, read.u32(sec, m)));
      vars.set(String(lib.btf__name_by_offset(btf, read.u32(varType, 0))), {
        offset: read.u32(sec, m + 4),
        size: read.u32(sec, m + 8),
      });
    }
    const sizeBuf = new BigUint64Array(1);
    const data = checkPtr(
      "bpf_map__initial_value(.rodata)",
      lib.bpf_map__initial_value(this.map(".rodata").handle, sizeBuf),
    );
    const view = new DataView(toArrayBuffer(data, 0, Number(sizeBuf[0])));
    for (const [name, value] of Object.entries(values)) {
      const slot = vars.get(name);
      if (!slot)
        throw new Error(`${this.name}: no const volatile variable "${name}" (have: ${[...vars.keys()].join(", ")})`);
      if (ArrayBuffer.isView(value)) {
        if (value.byteLength !== slot.size)
          throw new Error(`${this.name}: ${name} is ${slot.size} bytes, got ${value.byteLength}`);
        new Uint8Array(view.buffer, view.byteOffset + slot.offset, slot.size).set(
          new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
        );
      } else {
        const n = typeof value === "boolean" ? Number(value) : value;
        if (slot.size === 8) view.setBigUint64(slot.offset, BigInt(n), true);
        else if (slot.size === 4) view.setUint32(slot.offset, Number(n) >>> 0, true);
        else if (slot.size === 2) view.setUint16(slot.offset, Number(n), true);
        else if (slot.size === 1) view.setUint8(slot.offset, Number(n));
        else throw new Error(`${this.name}: ${name} has size ${slot.size}; pass bytes`);
      }
    }
  }

  load(): void {
    warnings.length = 0;
    check(`load BPF object ${this.name}`, lib.bpf_object__load(this.h));
    this.loaded = true;
  }

  adopt(link: BpfLink): BpfLink {
    this.links.push(link);
    return link;
  }

  close(): void {
    for (const l of this.links.splice(0)) l.destroy();
    if (this.handle) lib.bpf_object__close(this.handle);
    this.handle = null;
    openObjects.delete(this);
  }
}

export interface FuncParam {
  name: string;
  /** The type as C would spell it, simplified: `struct mid_q_entry *`, `bool`, ... */
  type: string;
}

/**
 * A kernel module's BTF (split on vmlinux), opened for a few look-ups: the
 * SMB tools read function signatures from it to pick argument positions at
 * load time.
 */
export class ModuleBtf {
  private constructor(
    private base: Pointer | null,
    private btf: Pointer | null,
  ) {}

  /** undefined when the kernel has no BTF for the module (not loaded, or built without). */
  static open(module: string): ModuleBtf | undefined {
    const base = lib.btf__load_vmlinux_btf();
    if (!base) return undefined;
    const m = lib.btf__load_module_btf(cstr(module), base);
    if (!m) {
      lib.btf__free(base);
      return undefined;
    }
    return new ModuleBtf(base, m);
  }

  private typeName(id: number, depth = 0): string {
    if (id === 0) return "void";
    if (!this.btf || depth > 8) return "?";
    const t = lib.btf__type_by_id(this.btf, id);
    if (!t) return "?";
    const name = String(lib.btf__name_by_offset(this.btf, read.u32(t, 0)) ?? "");
    const next = read.u32(t, 8);
    switch (btfKindVlen(t).kind) {
      case BTF_KIND_PTR:
        return `${this.typeName(next, depth + 1)} *`;
      case BTF_KIND_CONST:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG:
        return this.typeName(next, depth + 1);
      case BTF_KIND_STRUCT:
        return `struct ${name}`;
      default:
        return name || "?";
    }
  }

  /** Parameters of a function, or undefined when the BTF has no such function. */
  funcParams(name: string): FuncParam[] | undefined {
    if (!this.btf) return undefined;
    const id = lib.btf__find_by_name_kind(this.btf, cstr(name), BTF_KIND_FUNC);
    if (id < 0) return undefined;
    const fn = lib.btf__type_by_id(this.btf, id);
    if (!fn) return undefined;
    const proto = lib.btf__type_by_id(this.btf, read.u32(fn, 8));
    if (!proto) return undefined;
    const { kind, vlen } = btfKindVlen(proto);
    if (kind !== BTF_KIND_FUNC_PROTO) return undefined;
    const out: FuncParam[] = [];
    for (let i = 0; i < vlen; i++) {
      out.push({
        name: String(lib.btf__name_by_offset(this.btf, read.u32(proto, 12 + i * 8)) ?? ""),
        type: this.typeName(read.u32(proto, 12 + i * 8 + 4)),
      });
    }
    return out;
  }

  hasStruct(name: string): boolean {
    return !!this.btf && lib.btf__find_by_name_kind(this.btf, cstr(name), BTF_KIND_STRUCT) >= 0;
  }

  close(): void {
    if (this.btf) lib.btf__free(this.btf);
    if (this.base) lib.btf__free(this.base);
    this.btf = this.base = null;
  }
}
