// The few libbpf calls the SMB tools need beyond src/native/libbpf.ts: sharing
// a map between two objects (bpf_map__reuse_fd) and reading function
// signatures from a module's BTF (to pick argument positions at load time).
// Same embedded libbpf, opened again (dlopen shares the mapping).
import { FFIType, type Pointer, read } from "bun:ffi";
import { openEmbedded } from "../native/embedded-libs";
import { NativeError } from "../native/errors";
import type { BpfMap } from "../native/libbpf";
import { cstr } from "../native/libc";

const { ptr: P, i32, u32, cstring, void: v } = FFIType;
const lib = openEmbedded("libbpf.so.1", {
  bpf_map__reuse_fd: { args: [P, i32], returns: i32 },
  btf__load_vmlinux_btf: { args: [], returns: P },
  btf__load_module_btf: { args: [cstring, P], returns: P },
  btf__free: { args: [P], returns: v },
  btf__find_by_name_kind: { args: [P, cstring, u32], returns: i32 },
  btf__type_by_id: { args: [P, u32], returns: P },
  btf__name_by_offset: { args: [P, u32], returns: cstring },
});

/** Makes `map` (not yet loaded) use the kernel map `from` already created by another object. */
export function reuseMap(map: BpfMap, from: BpfMap): void {
  const rc = lib.bpf_map__reuse_fd(map.handle, from.fd);
  if (rc < 0) throw new NativeError(`bpf_map__reuse_fd(${map.name})`, -rc);
}

// BTF kinds (include/uapi/linux/btf.h).
const KIND = {
  INT: 1,
  PTR: 2,
  STRUCT: 4,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  TYPE_TAG: 18,
} as const;

export interface FuncParam {
  name: string;
  /** The type as C would spell it, simplified: `struct mid_q_entry *`, `bool`, ... */
  type: string;
}

/** A kernel module's BTF (split on vmlinux), opened for a few look-ups. */
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

  private kindOf(p: Pointer) {
    const info = read.u32(p, 4);
    return { kind: (info >>> 24) & 0x1f, vlen: info & 0xffff };
  }

  private typeName(id: number, depth = 0): string {
    if (id === 0) return "void";
    if (!this.btf || depth > 8) return "?";
    const t = lib.btf__type_by_id(this.btf, id);
    if (!t) return "?";
    const { kind } = this.kindOf(t);
    const name = String(lib.btf__name_by_offset(this.btf, read.u32(t, 0)) ?? "");
    const next = read.u32(t, 8);
    switch (kind) {
      case KIND.PTR:
        return `${this.typeName(next, depth + 1)} *`;
      case KIND.CONST:
      case KIND.VOLATILE:
      case KIND.RESTRICT:
      case KIND.TYPE_TAG:
        return this.typeName(next, depth + 1);
      case KIND.STRUCT:
        return `struct ${name}`;
      default:
        return name || "?";
    }
  }

  /** Parameters of a function, or undefined when the BTF has no such function. */
  funcParams(name: string): FuncParam[] | undefined {
    if (!this.btf) return undefined;
    const id = lib.btf__find_by_name_kind(this.btf, cstr(name), KIND.FUNC);
    if (id < 0) return undefined;
    const fn = lib.btf__type_by_id(this.btf, id);
    if (!fn) return undefined;
    const proto = lib.btf__type_by_id(this.btf, read.u32(fn, 8));
    if (!proto) return undefined;
    const { kind, vlen } = this.kindOf(proto);
    if (kind !== KIND.FUNC_PROTO) return undefined;
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
    return !!this.btf && lib.btf__find_by_name_kind(this.btf, cstr(name), KIND.STRUCT) >= 0;
  }

  close(): void {
    if (this.btf) lib.btf__free(this.btf);
    if (this.base) lib.btf__free(this.base);
    this.btf = this.base = null;
  }
}
