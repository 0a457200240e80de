// nfs_verbose's kind of window: the sunrpc debug flags, what `rpcdebug -m nfs
// -s …` and `rpcdebug -m rpc -s …` set: /proc/sys/sunrpc/nfs_debug and
// /proc/sys/sunrpc/rpc_debug, bitmasks. They exist while the sunrpc module is
// loaded on a kernel built with CONFIG_SUNRPC_DEBUG; the nfs client's and the
// RPC layer's dprintk()s print (printk, KERN_DEFAULT) when their facility's
// bit is set. A kernel built with CONFIG_SUNRPC_DEBUG_TRACE=y (default n)
// sends them to the ftrace buffer instead, and the window's log lacks them.
//
// The kernel reads back "0x%04x" (older kernels: decimal) and takes decimal
// or 0x-hex; aod writes decimal, which every kernel takes. Writing rpc_debug
// also makes the kernel list the RPC tasks it has (rpc_show_tasks(): pid,
// flags, status, client, timeout, ops) in the log: at the start and at the end
// of the window, what is stuck shows in nfs_verbose.log.
//
// Like `rpcdebug -s`, raising ORs the window's flags into what is set (flags
// an administrator set stay set); the exact previous values come back.
import { existsSync, readFileSync } from "node:fs";
import { errorCode, errorMessage } from "../../util/errors";
import type { RecordBase, VerboseKind } from "./kind";
import { writeKnob } from "./knob";
import type { NfsVerbosePaths } from "./paths";
import { parseRecord } from "./state-file";

/** The nfs client's facilities (include/uapi/linux/nfs_fs.h); `rpcdebug -m nfs -s all` sets NFSDBG_ALL, 0xffff. */
export const NFSDBG = {
  vfs: 0x0001,
  dircache: 0x0002,
  lookupcache: 0x0004,
  pagecache: 0x0008,
  proc: 0x0010,
  xdr: 0x0020,
  file: 0x0040,
  root: 0x0080,
  callback: 0x0100,
  client: 0x0200,
  mount: 0x0400,
  fscache: 0x0800,
  pnfs: 0x1000,
  pnfs_ld: 0x2000,
  state: 0x4000,
  xattrcache: 0x8000,
} as const;

/** The RPC layer's facilities (include/uapi/linux/sunrpc/debug.h); `rpcdebug -m rpc -s all` sets RPCDBG_ALL, 0x7fff. */
export const RPCDBG = {
  xprt: 0x0001,
  call: 0x0002,
  debug: 0x0004,
  nfs: 0x0008,
  auth: 0x0010,
  bind: 0x0020,
  sched: 0x0040,
  trans: 0x0080,
  svcxprt: 0x0100,
  svcdsp: 0x0200,
  misc: 0x0400,
  cache: 0x0800,
} as const;

/**
 * What the window sets: not "all", which floods. The anomalies this action is
 * for are a server that is slow, unreachable, restarted or answers with
 * errors, so the flags are those whose messages tell what the client did
 * about it, and that are quiet while all is well:
 * - nfs: client and mount (nfs_client and server setup, a remount or an
 *   automount in the window), state (NFSv4 lease renewal and state recovery
 *   after a server restart or a lease expiry), callback (the NFSv4 callback
 *   channel: delegation recalls), xdr (replies the client could not decode).
 *   = 0x4720
 * - rpc: xprt and trans (the transport's life: connect, disconnect,
 *   reconnect, timeouts and retransmissions, the socket's state changes),
 *   bind (rpcbind port lookups, which an NFSv3 client redoes after a server
 *   restart). = 0x00a1
 * Left out because they print per call, per page or per task step, which
 * under load is thousands of lines a second (on a console whose loglevel lets
 * KERN_DEFAULT through, each one slows the host): nfs vfs, file, pagecache,
 * dircache, lookupcache and proc (per-call status and latency come from the
 * nfserr and nfsslower tools, without printk), rpc call and sched (every step
 * of every RPC task), auth (per call with sec=krb5 on older kernels); and
 * the server's (svcxprt, svcdsp, cache), root (nfsroot), pnfs/pnfs_ld.
 * Older kernels (before the dprintk()s in xprt.c and xprtsock.c became
 * tracepoints) still print a line or two per RPC under xprt and trans; the
 * window is short, and its output capped (the earliest lines are kept).
 */
export const NFS_DEBUG_RAISED = NFSDBG.xdr | NFSDBG.callback | NFSDBG.client | NFSDBG.mount | NFSDBG.state;
export const RPC_DEBUG_RAISED = RPCDBG.xprt | RPCDBG.bind | RPCDBG.trans;

export interface SunrpcValues {
  /** nfs_debug before; null when it was not raised. */
  nfs_debug: number | null;
  /** rpc_debug before; null when it was not raised. */
  rpc_debug: number | null;
}

/** nfs_verbose's record. */
export type NfsSavedSettings = RecordBase & SunrpcValues;

type Knob = { key: keyof SunrpcValues; path: (p: NfsVerbosePaths) => string; raised: number; names: object };
const KNOBS: readonly Knob[] = [
  { key: "nfs_debug", path: (p) => p.nfsDebug, raised: NFS_DEBUG_RAISED, names: NFSDBG },
  { key: "rpc_debug", path: (p) => p.rpcDebug, raised: RPC_DEBUG_RAISED, names: RPCDBG },
];

/** A flags value as the kernel prints it: 0x%04x. */
export const hex = (v: number) => `0x${v.toString(16).padStart(4, "0")}`;

/** The facilities of a mask, by name. */
const flagNames = (mask: number, names: object) =>
  Object.entries(names)
    .filter(([, bit]) => mask & bit)
    .map(([n]) => n)
    .join(" ");

/** A value the kernel printed ("0x0000", or decimal on older kernels); undefined when it is not one. */
export function parseFlags(text: string): number | undefined {
  const t = text.trim();
  if (!/^(0x[0-9a-f]{1,8}|[0-9]{1,10})$/i.test(t)) return undefined;
  const v = Number(t);
  return v <= 0xffffffff ? v : undefined;
}

const isFlags = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

export const sunrpcKind: VerboseKind<NfsVerbosePaths, SunrpcValues, undefined> = {
  action: "nfs_verbose",
  what: "the NFS client's and the RPC layer's debug logging (rpcdebug flags)",

  prepare(paths) {
    if (!existsSync(paths.nfsDebug))
      return {
        error: `no ${paths.nfsDebug} (the sunrpc module is not loaded, or the kernel is built without CONFIG_SUNRPC_DEBUG): nothing changed`,
      };
    return { pre: undefined };
  },

  before(paths, _pre, notes) {
    const values: SunrpcValues = { nfs_debug: null, rpc_debug: null };
    for (const k of KNOBS) {
      const path = k.path(paths);
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (e) {
        notes.push(`${k.key} unreadable (${path}: ${errorCode(e) ?? errorMessage(e)}): left alone`);
        continue;
      }
      const v = parseFlags(text);
      if (v === undefined) notes.push(`${k.key} reads ${JSON.stringify(text.trim())}, not a flags value: left alone`);
      else values[k.key] = v;
    }
    return values;
  },

  raise(values, paths, _pre, raised) {
    const out = { ...values };
    const errors: string[] = [];
    let tried = 0;
    for (const k of KNOBS) {
      const before = values[k.key];
      if (before === null) continue;
      tried++;
      const value = (before | k.raised) >>> 0;
      try {
        writeKnob(k.path(paths), String(value));
        raised.push(`${k.key} ${hex(before)} → ${hex(value)} (+${flagNames(k.raised, k.names)})`);
        if (k.key === "rpc_debug")
          raised.push("writing rpc_debug lists the RPC tasks in the kernel log (at the raise and at the restore)");
      } catch (e) {
        errors.push(`${k.key}: ${errorCode(e) ?? errorMessage(e)}`);
        out[k.key] = null;
      }
    }
    for (const e of errors) raised.push(`could not raise ${e}`);
    return { values: out, tried, failed: errors.length };
  },

  restore(values, paths) {
    const done: string[] = [];
    const errors: string[] = [];
    for (const k of KNOBS) {
      const before = values[k.key];
      if (before === null) continue;
      const path = k.path(paths);
      if (!existsSync(path)) done.push(`${k.key}: ${path} is gone (nothing to restore)`);
      else
        try {
          writeKnob(path, String(before));
          done.push(`${k.key} back to ${hex(before)}`);
        } catch (e) {
          errors.push(`${k.key}: ${errorMessage(e)}`);
        }
    }
    return { done, errors };
  },

  parse(r) {
    const { nfs_debug, rpc_debug } = r;
    if ((nfs_debug !== null && !isFlags(nfs_debug)) || (rpc_debug !== null && !isFlags(rpc_debug))) return undefined;
    return { nfs_debug, rpc_debug };
  },
};

/** nfs_verbose's record read back, checked before anything of it is written to the kernel. */
export const parseNfsSaved = (text: string): NfsSavedSettings | undefined => parseRecord(text, sunrpcKind.parse);
