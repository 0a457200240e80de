// Which kernel hooks the SMB tools use, decided at load time by probing what
// this kernel offers (measured in the VM on Debian 6.1 and 6.12, see the
// comment in bpf/smbslower.bpf.c):
//
//   fentry     smb2_mid_entry_alloc → dequeue_mid via BTF trampolines: the mid
//              lifecycle pairs 1:1 (every request the kernel counts), cheapest.
//   kprobe     the same two functions through kprobes: where trampolines are
//              refused (some hosts answer EPERM) but kprobes are built in.
//   tracepoint cifs:smb3_cmd_enter → smb3_cmd_done/err: no BTF, no trampolines,
//              but done/err do not pair 1:1 with enter (~93% coverage).
//
// Errors always come from cifs:smb3_cmd_err (it carries the NT status and the
// errno cifs maps it to). `aod check` prints describeAttachPlan().
import { existsSync, readFileSync } from "node:fs";
import { BPF_PROG_TYPE_TRACING, probeProgType } from "../native/libbpf";
import { ModuleBtf } from "./native-extra";
import { readEventFormat, tracefsRoot, type TraceField } from "./tracefs";

export const HOOK_VARIANTS = ["fentry", "kprobe", "tracepoint"] as const;
export type HookVariant = (typeof HOOK_VARIANTS)[number];

export const ALLOC_FN = "smb2_mid_entry_alloc";
export const DONE_FN = "dequeue_mid";
/** Where a mid is freed (called once, when its last reference goes), newest name first. */
export const RELEASE_FNS = ["__release_mid", "_cifs_mid_q_entry_release"] as const;
export const TP_EVENTS = ["smb3_cmd_enter", "smb3_cmd_done", "smb3_cmd_err"] as const;
/** Tracepoint fields in the order of TPF_* in bpf/smb_shared.bpf.h. */
export const TP_FIELDS = ["tid", "sesid", "cmd", "mid", "status", "rc"] as const;
/** Layout measured on Debian 6.1 and 6.12; used only when a format file lacks a field. */
export const TP_DEFAULT_OFFSETS = [8, 16, 24, 32, 40, 44];

export interface HookCheck {
  name: HookVariant | string;
  ok: boolean;
  why: string;
}

export interface ArgPositions {
  allocShdr: number;
  allocServer: number;
  doneMid: number;
}

/** The optional release hook: catches requests that never get a response (reconnect, cancel). */
export interface ReleaseHook {
  fn: string;
  /** 1: argument `arg` is the mid; 2: it is &mid->refcount (kref callback). Matches rel_mode in the BPF. */
  mode: 1 | 2;
  arg: number;
  /** Listed in /proc/kallsyms (kprobe-able). */
  inKallsyms: boolean;
}

export interface AttachPlan {
  /** Variants to try, best first (the first that loads and attaches wins). */
  order: HookVariant[];
  /** The one expected to be used, or null when none can. */
  hooks: HookVariant | null;
  reason: string;
  available: HookCheck[];
  /** Errors (smb3_cmd_err) can be traced. */
  errors: HookCheck;
  cifsLoaded: boolean;
  args: ArgPositions;
  release?: ReleaseHook;
  /** tp offsets [enter, done, err][TP_FIELDS]. */
  tpOffsets: number[][];
}

/**
 * cifs is loaded and initialised: /sys/module/cifs/initstate says "live" (it
 * appears while the module is still loading, before its BTF and tracepoints
 * are registered); a built-in cifs has no initstate but a parameters dir.
 */
export function cifsLoaded(): boolean {
  try {
    return readFileSync("/sys/module/cifs/initstate", "utf8").trim() === "live";
  } catch {
    return existsSync("/sys/module/cifs/parameters") && !existsSync("/sys/module/cifs/initstate") && existsSync("/proc/fs/cifs");
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

/** Position of the first parameter whose type matches, or the fallback. */
function argIndex(params: { type: string }[] | undefined, re: RegExp, fallback: number): number {
  const i = params?.findIndex((p) => re.test(p.type)) ?? -1;
  return i >= 0 && i <= 1 ? i : fallback;
}

function preferenceFromEnv(env = process.env): HookVariant[] | undefined {
  const s = env.AOD_SMB_HOOKS?.trim();
  if (!s) return undefined;
  const list = s.split(/[,\s]+/).filter((x): x is HookVariant => (HOOK_VARIANTS as readonly string[]).includes(x));
  return list.length ? list : undefined;
}

/**
 * Probes the kernel (cheap: a few files and the cifs BTF) and returns which
 * hooks the SMB tools will use and why. `prefer` (or $AOD_SMB_HOOKS, e.g.
 * "kprobe,tracepoint") restricts and orders the candidates.
 */
export function describeAttachPlan(prefer?: HookVariant[]): AttachPlan {
  const loaded = cifsLoaded();
  const root = tracefsRoot();
  const formats = TP_EVENTS.map((e) => readEventFormat("cifs", e, root));
  const tpOffsets = formats.map((f) => TP_FIELDS.map((name, i) => (f?.[name] as TraceField | undefined)?.offset ?? TP_DEFAULT_OFFSETS[i]!));

  const btf = loaded ? ModuleBtf.open("cifs") : undefined;
  const allocParams = btf?.funcParams(ALLOC_FN);
  const doneParams = btf?.funcParams(DONE_FN);
  const hasMid = btf?.hasStruct("mid_q_entry") ?? false;
  const syms = loaded ? moduleSymbols([ALLOC_FN, DONE_FN, ...RELEASE_FNS]) : new Set<string>();
  let release: ReleaseHook | undefined;
  for (const fn of RELEASE_FNS) {
    const params = btf?.funcParams(fn);
    if (!params) continue;
    const mid = params.findIndex((p) => p.type === "struct mid_q_entry *");
    const kref = params.findIndex((p) => p.type === "struct kref *");
    if (mid === 0 || mid === 1) release = { fn, mode: 1, arg: mid, inKallsyms: syms.has(fn) };
    else if (kref === 0 || kref === 1) release = { fn, mode: 2, arg: kref, inKallsyms: syms.has(fn) };
    if (release) break;
  }
  btf?.close();
  const args: ArgPositions = {
    allocShdr: argIndex(allocParams, /^struct smb2_hdr \*$/, 0),
    allocServer: argIndex(allocParams, /^struct TCP_Server_Info \*$/, 1),
    doneMid: argIndex(doneParams, /^struct mid_q_entry \*$/, 0),
  };
  const kprobePmu = existsSync("/sys/bus/event_source/devices/kprobe");
  const tracing = probeProgType(BPF_PROG_TYPE_TRACING) === 1;

  const notLoaded = "cifs module not loaded";
  const missing = (what: string[]) => what.filter(Boolean).join(", ");
  const checks: Record<HookVariant, HookCheck> = {
    fentry: (() => {
      if (!loaded) return { name: "fentry", ok: false, why: notLoaded };
      const lack = missing([
        !btf ? "no cifs BTF (/sys/kernel/btf/cifs)" : "",
        btf && !allocParams ? `${ALLOC_FN} not in cifs BTF (inlined or renamed)` : "",
        btf && !doneParams ? `${DONE_FN} not in cifs BTF` : "",
        btf && !hasMid ? "struct mid_q_entry not in cifs BTF" : "",
        !tracing ? "BPF_PROG_TYPE_TRACING not supported" : "",
      ]);
      return lack
        ? { name: "fentry", ok: false, why: lack }
        : { name: "fentry", ok: true, why: `${ALLOC_FN}(${allocParams!.map((p) => p.type).join(", ")}) → ${DONE_FN}(${doneParams!.map((p) => p.type).join(", ")}); the kernel may still refuse trampolines at load (then the next is tried)` };
    })(),
    kprobe: (() => {
      if (!loaded) return { name: "kprobe", ok: false, why: notLoaded };
      const lack = missing([
        !kprobePmu ? "kernel without kprobes (no kprobe PMU, CONFIG_KPROBES off)" : "",
        !syms.has(ALLOC_FN) ? `${ALLOC_FN} not in /proc/kallsyms (inlined?)` : "",
        !syms.has(DONE_FN) ? `${DONE_FN} not in /proc/kallsyms` : "",
        !hasMid ? "struct mid_q_entry not in cifs BTF (needed to read the mid, CO-RE)" : "",
      ]);
      return lack ? { name: "kprobe", ok: false, why: lack } : { name: "kprobe", ok: true, why: `kprobes on ${ALLOC_FN} and ${DONE_FN}` };
    })(),
    tracepoint: (() => {
      if (!root) return { name: "tracepoint", ok: false, why: "tracefs not mounted (and could not mount it)" };
      const lack = TP_EVENTS.filter((_, i) => !formats[i]);
      if (lack.length) return { name: "tracepoint", ok: false, why: loaded ? `no cifs:${lack.join(", cifs:")} in tracefs` : notLoaded };
      return { name: "tracepoint", ok: true, why: "cifs:smb3_cmd_enter → smb3_cmd_done/err (done/err do not pair 1:1 with enter: ~93% of commands measured)" };
    })(),
  };
  const errors: HookCheck = formats[2]
    ? { name: "errors", ok: true, why: "cifs:smb3_cmd_err" }
    : { name: "errors", ok: false, why: loaded ? "no cifs:smb3_cmd_err tracepoint" : notLoaded };

  const order = prefer ?? preferenceFromEnv() ?? [...HOOK_VARIANTS];
  const hooks = order.find((v) => checks[v].ok) ?? null;
  const reason = hooks
    ? `${hooks}: ${checks[hooks].why}` + (order.indexOf(hooks) > 0 ? ` (not ${order.slice(0, order.indexOf(hooks)).map((v) => `${v}: ${checks[v].why}`).join("; ")})` : "")
    : loaded
      ? `no usable hooks: ${order.map((v) => `${v}: ${checks[v].why}`).join("; ")}`
      : "cifs module not loaded: waiting for it";
  return { order, hooks, reason, available: HOOK_VARIANTS.map((v) => checks[v]), errors, cifsLoaded: loaded, args, release, tpOffsets };
}
