// nfserr (config name nfsiosnoop, the prototype's): NFS requests the server
// failed (bpf/nfserr.bpf.c): nfs:nfs_xdr_status for v3 (the procedure and the
// NFS status) and nfs4:nfs4_xdr_status for v4 (the failed operation inside
// the COMPOUND, and the errno its status maps to). It writes into nfsslower's
// ring and uses its procedure map.
import { readFileSync } from "node:fs";
import nfserrObj from "../../build/bpf/nfserr.bpf.o" with { type: "file" };
import { errnoName } from "../format/errno-names";
import {
  NFS_ERROR_OP_TABLE,
  nfs4OperationId,
  nfsStatusCode,
  nfsStatusName,
  splitQualified,
} from "../format/nfs-procedures";
import { BpfObject } from "../native/libbpf";
import { nfsEventLine, nfsLineCommand } from "./nfs-event";
import { eventName, fieldOffsets, type NfsPlan } from "./nfs-plan";
import { NFS_COMMANDS } from "./nfsslower";
import { errnoFromName, fillErrnos, type SmberrFilter } from "./smberr";
import { defineTool, type EventKind } from "./spec";

export const nfserrKind: EventKind = {
  id: 4,
  name: "nfserr",
  aliases: ["nfsiosnoop"],
  commands: NFS_ERROR_OP_TABLE,
  marker: "nfs_status",
  toLine(e) {
    const fields: Record<string, unknown> = { errno: errnoName(e.rc) };
    const version = splitQualified(NFS_ERROR_OP_TABLE.name(e.command))?.version ?? 3;
    if (e.status) fields.nfs_status = nfsStatusName(e.status, version);
    return nfsEventLine(e, "nfserr", NFS_ERROR_OP_TABLE, fields);
  },
  fromLine(l) {
    const command = nfsLineCommand(NFS_ERROR_OP_TABLE, l);
    const errno = errnoFromName(l.errno);
    if (errno === undefined)
      throw new Error(`"errno" must be an errno name such as EROFS (or E<number>), found ${JSON.stringify(l.errno)}`);
    const status =
      l.nfs_status === undefined ? 0 : typeof l.nfs_status === "string" ? nfsStatusCode(l.nfs_status) : undefined;
    if (status === undefined)
      throw new Error(
        `"nfs_status" must be an NFS status name such as NFS3ERR_ROFS, found ${JSON.stringify(l.nfs_status)}`,
      );
    return { latencyNs: 0, command, rc: -errno, status };
  },
  traceColumn: (l) => `${l.errno}${l.nfs_status ? ` ${l.nfs_status}` : ""}`,
  summaryKey: (l) => `v${l.nfs_version}:${l.command} ${l.errno}${l.nfs_status ? ` ${l.nfs_status}` : ""}`,
};

const V3_FIELDS = { client_id: [4], xid: [4], version: [4], error: [8], program: [4], procedure: [4] };
const V4_FIELDS = { client_id: [4], xid: [4], op: [4], error: [8] };

const hooked = (plan: NfsPlan) =>
  [plan.v3err && eventName("v3err"), plan.v4err && eventName("v4err")].filter(Boolean).join(" + ");

export const nfserr = defineTool<SmberrFilter, NfsPlan>({
  name: "nfserr",
  protocol: "nfs",
  object: nfserrObj,
  objectName: "nfserr",
  kind: nfserrKind,
  lostIndex: 4,
  sharedMaps: ["events", "lost", "procs"],
  mergeFilters: (fs) => ({
    errnos: [...new Set((fs as readonly SmberrFilter[]).flatMap((f) => f.errnos))].sort((a, b) => a - b),
  }),
  skip(filter, plan) {
    if (!plan.v3err && !plan.v4err) return `neither ${eventName("v3err")} nor ${eventName("v4err")} in tracefs`;
    if (!filter.errnos.length) return "no errno tracked";
    return undefined;
  },
  skipText: (why) => `NFS errors not traced: ${why}`,
  variants: [
    {
      name: "tracepoint",
      probe: (plan) => ({ ok: !!(plan.v3err || plan.v4err), why: hooked(plan) || "no NFS error tracepoint" }),
    },
  ],
  check: {
    name: "NFS errors",
    run: (plan) => ({
      ok: !!(plan.v3err && plan.v4err),
      detail: `${hooked(plan) || "no NFS error tracepoint"}${plan.v4err ? "" : ` (${eventName("v4err")} appears when nfsv4 loads)`}`,
    }),
  },

  refill: (obj, filter) => fillErrnos(obj.map("errnos"), filter.errnos),

  load({ plan, filter, opts, base }) {
    const rodata: Record<string, number> = { filter_tgid: opts.pid ?? 0 };
    if (plan.v3err) Object.assign(rodata, fieldOffsets(plan.v3err, V3_FIELDS, "v3_off_", eventName("v3err")));
    if (plan.v4err) Object.assign(rodata, fieldOffsets(plan.v4err, V4_FIELDS, "v4_off_", eventName("v4err")));
    const obj = BpfObject.openMem(readFileSync(nfserrObj), "nfserr");
    try {
      obj.setRodata(rodata);
      obj.program("nfserr_v3").setAutoload(!!plan.v3err);
      obj.program("nfserr_v4").setAutoload(!!plan.v4err);
      for (const m of this.sharedMaps ?? []) obj.map(m).reuse(base!.map(m));
      obj.load();
      fillErrnos(obj.map("errnos"), filter.errnos);
      const commands = obj.map("commands");
      for (let i = 0; i < Math.min(NFS_COMMANDS, NFS_ERROR_OP_TABLE.names.length); i++)
        if (!opts.commands || opts.commands.includes(i)) commands.update(new Uint32Array([i]), new Uint8Array([1]));
      const ops = obj.map("v4_ops");
      for (let op = 0; op < 128; op++) ops.update(new Uint32Array([op]), new Uint16Array([nfs4OperationId(op)]));
      if (plan.v3err) obj.program("nfserr_v3").attachTracepoint("nfs", "nfs_xdr_status");
      if (plan.v4err) obj.program("nfserr_v4").attachTracepoint("nfs4", "nfs4_xdr_status");
      return { obj, variant: "tracepoint", via: hooked(plan) };
    } catch (e) {
      obj.close();
      throw e;
    }
  },
});
