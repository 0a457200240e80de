// The NFS protocol: its tools follow the NFS client module (nfs), and attach
// to tracepoints whose layouts come from their format files (measured the
// same on Debian 6.1 and 6.12; 6.12 appends xprt_id to rpc_stats_latency):
//   sunrpc:rpc_stats_latency  every completed RPC (nfsslower)
//   nfs:nfs_xdr_status        a failed v3 reply (nfserr; in the nfs module)
//   nfs4:nfs4_xdr_status      a failed v4 operation (nfserr; in nfsv4, which
//                             loads with the first v4 mount: its loading
//                             counts as a new instance, so the tools attach
//                             again and pick it up)
import { moduleInstance, moduleLoaded } from "../host/modules";
import { readEventFormat, type TraceField, tracefsRoot } from "../host/tracefs";
import type { Protocol } from "./spec";

export const NFS_EVENTS = {
  latency: { system: "sunrpc", event: "rpc_stats_latency" },
  v3err: { system: "nfs", event: "nfs_xdr_status" },
  v4err: { system: "nfs4", event: "nfs4_xdr_status" },
} as const;

export type NfsEvent = keyof typeof NFS_EVENTS;

/** What the NFS tools can attach to on this kernel: each event's fields, when it exists. */
export type NfsPlan = Partial<Record<NfsEvent, Record<string, TraceField>>>;

export function nfsPlan(root = tracefsRoot()): NfsPlan {
  const plan: NfsPlan = {};
  for (const [k, { system, event }] of Object.entries(NFS_EVENTS))
    plan[k as NfsEvent] = readEventFormat(system, event, root);
  return plan;
}

/**
 * Offsets of `fields` in an event's record, for the tool's rodata (`prefix` +
 * field name); throws naming the first field the format lacks or has at an
 * unexpected size.
 */
export function fieldOffsets(
  fields: Record<string, TraceField>,
  want: Record<string, number[]>,
  prefix: string,
  what: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, sizes] of Object.entries(want)) {
    const f = fields[name];
    if (!f || !sizes.includes(f.size))
      throw new Error(`${what}: field ${name} ${f ? `has size ${f.size}` : "is missing"} in its format file`);
    out[`${prefix}${name}`] = f.offset;
  }
  return out;
}

export const eventName = (k: NfsEvent) => `${NFS_EVENTS[k].system}:${NFS_EVENTS[k].event}`;

export const nfsProtocol: Protocol<NfsPlan> = {
  name: "nfs",
  module: "nfs",
  loaded: () => moduleLoaded("nfs"),
  instance: () => `${moduleInstance("nfs")}/${moduleInstance("nfsv4")}`,
  plan: () => nfsPlan(),
  waiting: "waiting for nfs (module not loaded)",
  // The RPC life of each call and the NFS client's own errors (not every
  // sunrpc:* event: the server side, xdr buffers and the cache are left out).
  recorderEvents: [
    "sunrpc/rpc_task_begin",
    "sunrpc/rpc_task_end",
    "sunrpc/rpc_request",
    "sunrpc/rpc_call_status",
    "sunrpc/rpc_timeout_status",
    "sunrpc/rpc_retry_refresh_status",
    "sunrpc/rpc_stats_latency",
    "sunrpc/rpc_clnt_new",
    "sunrpc/xprt_connect",
    "sunrpc/xprt_disconnect_auto",
    "sunrpc/xprt_disconnect_done",
    "sunrpc/xprt_reserve_cong",
    "sunrpc/xprt_transmit",
    "sunrpc/xprt_retransmit",
    "nfs/nfs_xdr_status",
    "nfs4/nfs4_xdr_status",
    "nfs4/nfs4_sequence_done",
    "nfs4/nfs4_setup_sequence",
    "nfs4/nfs4_state_mgr",
  ],
};
