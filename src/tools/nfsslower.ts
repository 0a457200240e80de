// nfsslower: the latency of every NFS RPC (bpf/nfsslower.bpf.c), per
// procedure and version. It owns the NFS ring buffer and the procedure map
// nfserr shares, and reports latency events only for the procedures some rule
// gives a threshold; every RPC goes into the per-procedure histograms.
import { readFileSync } from "node:fs";
import nfsslowerObj from "../../build/bpf/nfsslower.bpf.o" with { type: "file" };
import type { NameTable } from "../format/name-table";
import { NFS_PROCEDURE_TABLE, splitQualified } from "../format/nfs-procedures";
import { type BpfMap, BpfObject } from "../native/libbpf";
import { readShareHistograms } from "./hist";
import { nfsClients, nfsEventLine, nfsLineCommand } from "./nfs-event";
import { eventName, fieldOffsets, type NfsPlan } from "./nfs-plan";
import { mergeThresholds, type SmbslowerFilter, UNTRACKED } from "./smbslower";
import { defineTool, type EventKind } from "./spec";

const NFS_PROC_NAME_LEN = 28; // bpf/nfs_shared.bpf.h
export const NFS_COMMANDS = 128;

/** Fills the `procs` map: (version, kernel procedure name) → id of `table` ("" = the version's OTHER). */
export function fillProcs(map: BpfMap, table: NameTable): void {
  const enc = new TextEncoder();
  table.names.forEach((qualified, id) => {
    const q = splitQualified(qualified)!;
    const key = new Uint8Array(4 + NFS_PROC_NAME_LEN);
    new DataView(key.buffer).setUint32(0, q.version, true);
    if (q.name !== "OTHER") key.set(enc.encode(q.name).subarray(0, NFS_PROC_NAME_LEN - 1), 4);
    map.update(key, new Uint16Array([id]));
  });
}

/** Contents of the `thresholds` map (ns; UNTRACKED = never report). `commands` restricts. */
export function nfsThresholds(thresholdsMs: readonly (number | null)[], commands?: readonly number[]): BigUint64Array {
  const out = new BigUint64Array(NFS_COMMANDS).fill(UNTRACKED);
  thresholdsMs.forEach((t, i) => {
    if (t !== null && (!commands || commands.includes(i))) out[i] = BigInt(Math.round(t * 1e6));
  });
  return out;
}

const ms = (us: bigint) => Number(us) / 1000;

export const nfsslowerKind: EventKind = {
  id: 3,
  name: "nfsslower",
  aliases: [],
  commands: NFS_PROCEDURE_TABLE,
  marker: "rtt_ms",
  toLine: (e) =>
    nfsEventLine(e, "nfsslower", NFS_PROCEDURE_TABLE, {
      latency_ms: Number(e.latencyNs) / 1e6,
      rtt_ms: ms(e.sessionId >> 32n),
      backlog_ms: ms(e.sessionId & 0xffffffffn),
    }),
  fromLine(l) {
    const command = nfsLineCommand(NFS_PROCEDURE_TABLE, l);
    if (typeof l.latency_ms !== "number" || !(l.latency_ms >= 0))
      throw new Error(`"latency_ms" must be a number >= 0, found ${JSON.stringify(l.latency_ms)}`);
    return { latencyNs: l.latency_ms * 1e6, command, rc: 0 };
  },
  traceColumn: (l) => (l.latency_ms as number).toFixed(3),
};

const LATENCY_FIELDS = {
  client_id: [4],
  xid: [4],
  version: [4],
  progname: [4],
  procname: [4],
  backlog: [8],
  rtt: [8],
  execute: [8],
};

export const nfsslower = defineTool<SmbslowerFilter, NfsPlan>({
  name: "nfsslower",
  protocol: "nfs",
  object: nfsslowerObj,
  objectName: "nfsslower",
  kind: nfsslowerKind,
  lostIndex: 3,
  ring: "events",
  histMap: "hist",
  mergeFilters: (fs) => ({
    thresholdsMs: mergeThresholds(fs as readonly SmbslowerFilter[], NFS_PROCEDURE_TABLE.names.length),
  }),
  variants: [
    {
      name: "tracepoint",
      probe: (plan) =>
        plan.latency
          ? { ok: true, why: eventName("latency") }
          : { ok: false, why: `no ${eventName("latency")} in tracefs` },
    },
  ],
  check: {
    name: "NFS latency", // row names are keys in `aod check --json`: unique beside SMB's
    run: (plan) =>
      plan.latency
        ? { ok: true, detail: eventName("latency") }
        : { ok: false, detail: `${eventName("latency")} not in tracefs` },
  },

  // Per RPC client; labelled with its export when one mount fits, else its server.
  shareHistograms: (obj) =>
    readShareHistograms(obj.map("share_hist"), 8, "nfs", (k) => {
      const command = NFS_PROCEDURE_TABLE.name(k.getUint16(4, true));
      const where = nfsClients().resolve(k.getUint32(0, true), splitQualified(command)?.version ?? 0);
      return { command, share: where.share ?? where.server ?? "unknown" };
    }),

  refill(obj, filter, opts) {
    const th = obj.map("thresholds");
    nfsThresholds(filter.thresholdsMs, opts.commands).forEach((v, i) => {
      th.update(new Uint32Array([i]), new BigUint64Array([v]));
    });
  },

  load({ plan, filter, opts }) {
    const offs = fieldOffsets(plan.latency!, LATENCY_FIELDS, "off_", eventName("latency"));
    const obj = BpfObject.openMem(readFileSync(nfsslowerObj), "nfsslower");
    try {
      obj.setRodata({ ...offs, filter_tgid: opts.pid ?? 0, share_hist_on: !!opts.shareHistograms });
      obj.map("events").setMaxEntries(opts.ringBytes ?? 1 << 22);
      obj.load();
      fillProcs(obj.map("procs"), NFS_PROCEDURE_TABLE);
      this.refill!(obj, filter, opts);
      obj.program("nfsslower_rpc_done").attachTracepoint("sunrpc", "rpc_stats_latency");
      return { obj, variant: "tracepoint", via: eventName("latency") };
    } catch (e) {
      obj.close();
      throw e;
    }
  },
});
