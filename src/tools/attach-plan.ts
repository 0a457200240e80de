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
// Errors come from cifs:smb3_cmd_err (it carries the NT status and the errno
// cifs maps it to); failures outside the request lifecycle (server down) from
// cifs:smb3_connect_err and the per-operation cifs:smb3_*_err events (see
// bpf/smberr.bpf.c). `aod check` prints describeAttachPlan().
import { existsSync } from "node:fs";
import { smb2CommandId } from "../format/smb2-commands";
import { cifsInstance, cifsLoaded, moduleSymbols } from "../host/modules";
import { readEventFormat, type TraceField, tracefsRoot } from "../host/tracefs";
import { BPF_PROG_TYPE_TRACING, ModuleBtf, probeProgType } from "../native/libbpf";
import type { Protocol } from "./spec";

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

/** A failed (re)connect: reported as SMB2_NEGOTIATE with AOD_EV_CONNECT. */
export const CONNECT_EVENT = "smb3_connect_err";
/** The smberr program of a per-operation error event. */
export const opErrProgram = (event: string) => `smberr_${event}`;

/** smb3_connect_err's rc offset on Debian 6.1 and 6.12; used only when its format file lacks it. */
export const CONNECT_RC_DEFAULT_OFFSET = 152;

/**
 * Per-operation error events (fs/smb/client/trace.h) → the SMB2 command the
 * operation sends, and whether their tid/sesid fields can be trusted. Each is
 * attached when this kernel has it (6.12 has more than 6.1; read_err and
 * write_err moved fields in 6.12: offsets always come from the format files).
 * `ids: false`: the smb2inode.c compound operations pass session and tree
 * swapped on 6.1 (sid= shows the tree id; fixed by 6.12), so session and tree
 * are reported as 0 for them. Ambiguous operations (fallocate) are reported
 * as SMB2_NEGOTIATE, like connect errors.
 */
export const OP_ERR_EVENTS: Record<string, { command: string; ids: boolean }> = {
  smb3_open_err: { command: "SMB2_CREATE", ids: true },
  smb3_posix_mkdir_err: { command: "SMB2_CREATE", ids: true },
  smb3_close_err: { command: "SMB2_CLOSE", ids: true },
  smb3_flush_err: { command: "SMB2_FLUSH", ids: true },
  smb3_read_err: { command: "SMB2_READ", ids: true },
  smb3_write_err: { command: "SMB2_WRITE", ids: true },
  smb3_lock_err: { command: "SMB2_LOCK", ids: true },
  smb3_fsctl_err: { command: "SMB2_IOCTL", ids: true },
  smb3_zero_err: { command: "SMB2_IOCTL", ids: true },
  smb3_falloc_err: { command: "SMB2_NEGOTIATE", ids: true },
  smb3_query_dir_err: { command: "SMB2_QUERY_DIRECTORY", ids: true },
  smb3_notify_err: { command: "SMB2_CHANGE_NOTIFY", ids: true },
  smb3_query_info_err: { command: "SMB2_QUERY_INFO", ids: true },
  smb3_set_info_err: { command: "SMB2_SET_INFO", ids: true },
  smb3_tdis_err: { command: "SMB2_TREE_DISCONNECT", ids: true },
  // smb2inode.c compound chains (create + query/set info + close), named by their middle command.
  smb3_query_info_compound_err: { command: "SMB2_QUERY_INFO", ids: false },
  smb3_posix_query_info_compound_err: { command: "SMB2_QUERY_INFO", ids: false },
  smb3_set_info_compound_err: { command: "SMB2_SET_INFO", ids: false },
  smb3_set_eof_err: { command: "SMB2_SET_INFO", ids: false },
  smb3_rename_err: { command: "SMB2_SET_INFO", ids: false },
  smb3_hardlink_err: { command: "SMB2_SET_INFO", ids: false },
  smb3_rmdir_err: { command: "SMB2_SET_INFO", ids: false },
  smb3_mkdir_err: { command: "SMB2_CREATE", ids: false },
  smb3_delete_err: { command: "SMB2_CREATE", ids: false },
  smb3_mknod_err: { command: "SMB2_CREATE", ids: false },
  smb3_get_reparse_compound_err: { command: "SMB2_IOCTL", ids: false },
  smb3_set_reparse_compound_err: { command: "SMB2_IOCTL", ids: false },
  smb3_query_wsl_ea_compound_err: { command: "SMB2_QUERY_INFO", ids: false },
};

/**
 * Errnos that mean "failed locally / the connection is down" when a
 * per-operation error event reports them; any other errno there came from the
 * server and smb3_cmd_err reported it already. EAGAIN is left out: see
 * bpf/smberr.bpf.c. All in 64..127 (smberr's `local_errnos` bitmap).
 */
export const LOCAL_ERRNOS: Record<string, number> = {
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
};

/** smberr's `local_errnos` rodata: bit (errno - 64) per errno in 64..127. */
export function localErrnoMask(errnos: readonly number[] = Object.values(LOCAL_ERRNOS)): bigint {
  let m = 0n;
  for (const e of errnos) if (e >= 64 && e <= 127) m |= 1n << BigInt(e - 64);
  return m;
}

/** One per-operation error event (smberr program smberr_<event>); offsets 0 = field absent. */
export interface OpErrHook {
  event: string;
  /** Index in OP_ERR_EVENTS: the op_desc key, OP_ERR(event, index) in bpf/smberr.bpf.c. */
  index: number;
  rcOff: number;
  xidOff: number;
  tidOff: number;
  sesidOff: number;
  /** SMB2 command id. */
  command: number;
  ids: boolean;
}

/** The op_desc map value (struct op_desc in bpf/smberr.bpf.c, 12 bytes). */
export function opDescValue(h: OpErrHook): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  v.setUint16(0, h.rcOff, true);
  v.setUint16(2, h.xidOff, true);
  v.setUint16(4, h.tidOff, true);
  v.setUint16(6, h.sesidOff, true);
  v.setUint16(8, h.command, true);
  v.setUint8(10, h.ids ? 1 : 0);
  return out;
}

/** An OpErrHook from an event's format fields, or undefined when unusable (unknown event, no int rc). */
export function opErrHook(event: string, fields: Record<string, TraceField>): OpErrHook | undefined {
  const spec = OP_ERR_EVENTS[event];
  const rc = fields.rc;
  if (!spec || !rc || rc.size !== 4) return undefined;
  const off = (name: string, size: number) => (fields[name]?.size === size ? fields[name]!.offset : 0);
  return {
    event,
    index: Object.keys(OP_ERR_EVENTS).indexOf(event),
    rcOff: rc.offset,
    xidOff: off("xid", 4),
    tidOff: off("tid", 4),
    sesidOff: off("sesid", 8),
    command: smb2CommandId(spec.command) ?? 0,
    ids: spec.ids,
  };
}

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
  /** cifs:smb3_connect_err's rc offset, or null when this kernel lacks the event. */
  connectRcOff: number | null;
  /** Per-operation error events present (smberr_op_err is attached to each). */
  opErrs: OpErrHook[];
  /** Per-operation error events of OP_ERR_EVENTS this kernel does not have (or unusable). */
  opErrsMissing: string[];
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
/** What tracefs says about cifs: the command tracepoints' offsets and the error events present. */
function readCifsTracepoints(root: string | undefined) {
  const formats = TP_EVENTS.map((e) => readEventFormat("cifs", e, root));
  const tpOffsets = formats.map((f) =>
    TP_FIELDS.map((name, i) => (f?.[name] as TraceField | undefined)?.offset ?? TP_DEFAULT_OFFSETS[i]!),
  );
  const connect = readEventFormat("cifs", CONNECT_EVENT, root);
  const connectRcOff = connect ? (connect.rc?.offset ?? CONNECT_RC_DEFAULT_OFFSET) : null;
  const opErrs: OpErrHook[] = [];
  const opErrsMissing: string[] = [];
  for (const event of Object.keys(OP_ERR_EVENTS)) {
    const fields = readEventFormat("cifs", event, root);
    const h = fields && opErrHook(event, fields);
    if (h) opErrs.push(h);
    else opErrsMissing.push(event);
  }
  return { formats, tpOffsets, connectRcOff, opErrs, opErrsMissing };
}

/** What cifs's BTF and kallsyms say about the functions the fentry and kprobe variants hook. */
function readCifsFunctions(loaded: boolean) {
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
  const hasBtf = !!btf;
  btf?.close();
  const args: ArgPositions = {
    allocShdr: argIndex(allocParams, /^struct smb2_hdr \*$/, 0),
    allocServer: argIndex(allocParams, /^struct TCP_Server_Info \*$/, 1),
    doneMid: argIndex(doneParams, /^struct mid_q_entry \*$/, 0),
  };
  return { hasBtf, allocParams, doneParams, hasMid, syms, release, args };
}

const NOT_LOADED = "cifs module not loaded";
const lacking = (what: string[]) => what.filter(Boolean).join(", ");
const types = (params: { type: string }[]) => params.map((p) => p.type).join(", ");

function fentryCheck(loaded: boolean, fns: ReturnType<typeof readCifsFunctions>): HookCheck {
  if (!loaded) return { name: "fentry", ok: false, why: NOT_LOADED };
  const { hasBtf, allocParams, doneParams, hasMid } = fns;
  const lack = lacking([
    !hasBtf ? "no cifs BTF (/sys/kernel/btf/cifs)" : "",
    hasBtf && !allocParams ? `${ALLOC_FN} not in cifs BTF (inlined or renamed)` : "",
    hasBtf && !doneParams ? `${DONE_FN} not in cifs BTF` : "",
    hasBtf && !hasMid ? "struct mid_q_entry not in cifs BTF" : "",
    probeProgType(BPF_PROG_TYPE_TRACING) !== 1 ? "BPF_PROG_TYPE_TRACING not supported" : "",
  ]);
  if (lack) return { name: "fentry", ok: false, why: lack };
  const why = `${ALLOC_FN}(${types(allocParams!)}) → ${DONE_FN}(${types(doneParams!)}); the kernel may still refuse trampolines at load (then the next is tried)`;
  return { name: "fentry", ok: true, why };
}

function kprobeCheck(loaded: boolean, { syms, hasMid }: ReturnType<typeof readCifsFunctions>): HookCheck {
  if (!loaded) return { name: "kprobe", ok: false, why: NOT_LOADED };
  const lack = lacking([
    !existsSync("/sys/bus/event_source/devices/kprobe")
      ? "kernel without kprobes (no kprobe PMU, CONFIG_KPROBES off)"
      : "",
    !syms.has(ALLOC_FN) ? `${ALLOC_FN} not in /proc/kallsyms (inlined?)` : "",
    !syms.has(DONE_FN) ? `${DONE_FN} not in /proc/kallsyms` : "",
    !hasMid ? "struct mid_q_entry not in cifs BTF (needed to read the mid, CO-RE)" : "",
  ]);
  if (lack) return { name: "kprobe", ok: false, why: lack };
  return { name: "kprobe", ok: true, why: `kprobes on ${ALLOC_FN} and ${DONE_FN}` };
}

function tracepointCheck(loaded: boolean, root: string | undefined, formats: unknown[]): HookCheck {
  if (!root) return { name: "tracepoint", ok: false, why: "tracefs not mounted (and could not mount it)" };
  const lack = TP_EVENTS.filter((_, i) => !formats[i]);
  if (lack.length)
    return { name: "tracepoint", ok: false, why: loaded ? `no cifs:${lack.join(", cifs:")} in tracefs` : NOT_LOADED };
  return {
    name: "tracepoint",
    ok: true,
    why: "cifs:smb3_cmd_enter → smb3_cmd_done/err (done/err do not pair 1:1 with enter: ~93% of commands measured)",
  };
}

/** The first usable variant in order of preference, and why (with why not the ones before it). */
function chooseHooks(order: HookVariant[], checks: Record<HookVariant, HookCheck>, loaded: boolean) {
  const hooks = order.find((v) => checks[v].ok) ?? null;
  const whyNot = (vs: HookVariant[]) => vs.map((v) => `${v}: ${checks[v].why}`).join("; ");
  if (!hooks)
    return { hooks, reason: loaded ? `no usable hooks: ${whyNot(order)}` : "cifs module not loaded: waiting for it" };
  const skipped = order.slice(0, order.indexOf(hooks));
  return { hooks, reason: `${hooks}: ${checks[hooks].why}${skipped.length ? ` (not ${whyNot(skipped)})` : ""}` };
}

export function describeAttachPlan(prefer?: HookVariant[]): AttachPlan {
  const loaded = cifsLoaded();
  const root = tracefsRoot();
  const tp = readCifsTracepoints(root);
  const fns = readCifsFunctions(loaded);
  const checks: Record<HookVariant, HookCheck> = {
    fentry: fentryCheck(loaded, fns),
    kprobe: kprobeCheck(loaded, fns),
    tracepoint: tracepointCheck(loaded, root, tp.formats),
  };
  const errors: HookCheck = tp.formats[2]
    ? {
        name: "errors",
        ok: true,
        why: `cifs:smb3_cmd_err; ${describeLocalErrorHooks(tp.connectRcOff !== null, tp.opErrs, tp.opErrsMissing)}`,
      }
    : { name: "errors", ok: false, why: loaded ? "no cifs:smb3_cmd_err tracepoint" : NOT_LOADED };
  const order = prefer ?? preferenceFromEnv() ?? [...HOOK_VARIANTS];
  return {
    order,
    ...chooseHooks(order, checks, loaded),
    available: HOOK_VARIANTS.map((v) => checks[v]),
    errors,
    cifsLoaded: loaded,
    args: fns.args,
    release: fns.release,
    tpOffsets: tp.tpOffsets,
    connectRcOff: tp.connectRcOff,
    opErrs: tp.opErrs,
    opErrsMissing: tp.opErrsMissing,
  };
}

/** The `errors` check's text about the connection-level hooks (present or not). */
export function describeLocalErrorHooks(
  connect: boolean,
  opErrs: readonly OpErrHook[],
  missing: readonly string[],
): string {
  const c = connect ? `cifs:${CONNECT_EVENT} (failed connects)` : `no cifs:${CONNECT_EVENT} (failed connects not seen)`;
  const total = opErrs.length + missing.length;
  const ops = opErrs.length
    ? `${opErrs.length}/${total} per-operation cifs:smb3_*_err events for local failures (${LOCAL_ERRNOS_TEXT})` +
      (missing.length ? `; not on this kernel: ${missing.join(", ")}` : "")
    : "no per-operation cifs:smb3_*_err events (local failures while the server is down not seen)";
  return `${c}; ${ops}`;
}

const LOCAL_ERRNOS_TEXT = Object.keys(LOCAL_ERRNOS).join(", ");

/** The SMB tools follow the cifs module; one attach plan per attach. */
export const smbProtocol: Protocol<AttachPlan> = {
  name: "smb",
  module: "cifs",
  loaded: cifsLoaded,
  instance: cifsInstance,
  plan: (prefer) => describeAttachPlan(prefer as HookVariant[] | undefined),
  waiting: "waiting for cifs (module not loaded)",
  // What the client did: each command's enter/done/err, the per-operation
  // errors, and the connection's life (not every cifs:* event: the ring holds
  // more seconds this way).
  recorderEvents: [
    ...TP_EVENTS,
    ...Object.keys(OP_ERR_EVENTS),
    "smb3_reconnect",
    "smb3_partial_send_reconnect",
    "smb3_reconnect_detected",
    "smb3_reconnect_with_invalid_credits",
    "smb3_connect_done",
    "smb3_connect_err",
    "smb3_ses_expired",
    "smb3_credit_timeout",
    "smb3_tcon",
  ].map((e) => `cifs/${e}`),
};
