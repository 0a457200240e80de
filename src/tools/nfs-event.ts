// What nfsslower's and nfserr's records become: event lines with `proto:
// "nfs"`, the procedure (or v4 operation) as `command` with its version in
// `nfs_version`, the RPC client and xid, and where the event happened as far
// as the kernel lets us tell (src/host/nfs-clients.ts). Field use of struct
// aod_event: bpf/nfs_shared.bpf.h.
import type { DecodedEvent, EventLine } from "../format/event";
import type { NameTable } from "../format/name-table";
import { splitQualified } from "../format/nfs-procedures";
import { NfsClientResolver } from "../host/nfs-clients";
import { lineCommand } from "./spec";

// Live events only (replay reads lines back, never this): the mounts as they
// are when an event is described, which is at detection time.
let resolver: NfsClientResolver | undefined;
export const nfsClients = (): NfsClientResolver => {
  resolver ??= new NfsClientResolver();
  return resolver;
};

/** The common fields of an NFS event line around the kind's own (`fields`). */
export function nfsEventLine(
  e: DecodedEvent,
  tool: string,
  table: NameTable,
  fields: Record<string, unknown>,
): EventLine {
  const q = splitQualified(table.name(e.command));
  const version = q?.version ?? 0;
  const line: EventLine = {
    time_ns: e.timeNs,
    tool,
    proto: "nfs",
    command: q?.name ?? table.name(e.command),
    nfs_version: version,
    ...fields,
  };
  line.pid = e.pid;
  line.comm = e.comm;
  line.client_id = e.treeId;
  line.xid = `0x${e.mid.toString(16).padStart(8, "0")}`;
  const where = nfsClients().resolve(e.treeId, version);
  if (where.server) line.server = where.server;
  if (where.share) line.share = where.share;
  if (where.candidates) line.share_candidates = where.candidates;
  return line;
}

/** A recorded NFS line's command id: `command` qualified by `nfs_version`. */
export function nfsLineCommand(table: NameTable, l: EventLine): number {
  if (l.nfs_version !== 3 && l.nfs_version !== 4)
    throw new Error(`"nfs_version" must be 3 or 4, found ${JSON.stringify(l.nfs_version)}`);
  return lineCommand(table, { ...l, command: `v${l.nfs_version}:${l.command}` });
}
