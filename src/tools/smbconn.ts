// smbconn: trouble with the SMB connection itself (bpf/smbconn.bpf.c): lost
// and rebuilt sockets, failed connects, expired sessions, credit timeouts and
// failed tree connects, from the cifs tracepoints this kernel has. Its events
// name the server; they have no command and no latency.
import { readFileSync } from "node:fs";
import smbconnObj from "../../build/bpf/smbconn.bpf.o" with { type: "file" };
import { errnoName } from "../format/errno-names";
import type { DecodedEvent, EventLine } from "../format/event";
import { nameTable } from "../format/name-table";
import { readEventFormat, type TraceField, tracefsRoot } from "../host/tracefs";
import { BpfObject } from "../native/libbpf";
import { errnoFromName } from "./smberr";
import { defineTool, type EventKind, lineCommand } from "./spec";

/** The kinds of connection event, at their ids (aod_event.command; bit in the kind_mask map). */
export const CONN_KINDS = ["reconnect", "connect_failed", "session_expired", "credit_timeout", "tcon_failed"] as const;
export const CONN_KIND_TABLE = nameTable("connection event kind", CONN_KINDS, "reconnect", (id) => `kind_${id}`);

/** The hooked tracepoints, at their slots in bpf/smbconn.bpf.c's CONN() list. */
export const CONN_EVENTS = [
  { event: "smb3_reconnect", kind: "reconnect" },
  { event: "smb3_connect_err", kind: "connect_failed" },
  { event: "smb3_ses_expired", kind: "session_expired" },
  { event: "smb3_credit_timeout", kind: "credit_timeout" },
  { event: "smb3_tcon", kind: "tcon_failed", onlyFailed: true },
] as const;

/** What Connection rules ask of smbconn: the kinds to report (ids). */
export interface SmbconnFilter {
  kinds: readonly number[];
}

/** One hooked event as bpf/smbconn.bpf.c's struct conn_desc describes it. */
export interface ConnHook {
  event: string;
  slot: number;
  desc: Uint8Array;
}

/** The struct conn_desc of an event from its format file's fields (0 = field absent). */
export function connDesc(slot: number, fields: Record<string, TraceField>): Uint8Array {
  const { kind, ...rest } = CONN_EVENTS[slot]!;
  const off = (name: string, ...sizes: number[]) =>
    sizes.includes(fields[name]?.size ?? -1) ? fields[name]!.offset : 0;
  // A string is a __data_loc (4 bytes: offset | length << 16) or a char * (8).
  const loc = (name: string) => (fields[name]?.size === 4 ? 1 : fields[name]?.size === 8 ? 2 : 0);
  const unc = fields.name ? "name" : "tree";
  const out = new Uint8Array(18);
  const v = new DataView(out.buffer);
  v.setUint16(0, off("conn_id", 8), true);
  v.setUint16(2, off("sesid", 8), true);
  v.setUint16(4, off("tid", 4), true);
  v.setUint16(6, off("rc", 4), true);
  v.setUint16(8, off("hostname", 4, 8), true);
  v.setUint16(10, off(unc, 4, 8), true);
  v.setUint16(12, (fields.dst_addr?.size ?? 0) >= 28 ? fields.dst_addr!.offset : 0, true);
  v.setUint8(14, loc("hostname"));
  v.setUint8(15, loc(unc));
  v.setUint8(16, CONN_KIND_TABLE.id(kind)!);
  v.setUint8(17, "onlyFailed" in rest && rest.onlyFailed ? 1 : 0);
  return out;
}

/** The connection events this kernel has, and the ones it lacks. */
export function connHooks(root = tracefsRoot()): { hooks: ConnHook[]; missing: string[] } {
  const hooks: ConnHook[] = [];
  const missing: string[] = [];
  CONN_EVENTS.forEach(({ event }, slot) => {
    const fields = readEventFormat("cifs", event, root);
    if (fields) hooks.push({ event, slot, desc: connDesc(slot, fields) });
    else missing.push(event);
  });
  return { hooks, missing };
}

const describeHooks = ({ hooks, missing }: ReturnType<typeof connHooks>) =>
  `${hooks.map((h) => `cifs:${h.event}`).join(", ")}${missing.length ? ` (not on this kernel: ${missing.join(", ")})` : ""}`;

// The record's tail (struct conn_tail): server[64], share[96], addr[28].
const cString = (b: Uint8Array) => {
  const nul = b.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? b : b.subarray(0, nul));
};

/** A sockaddr's start as "ip:port" (IPv4, IPv6), or undefined. */
export function sockaddrText(a: Uint8Array): string | undefined {
  const v = new DataView(a.buffer, a.byteOffset, a.byteLength);
  const family = v.getUint16(0, true);
  const port = v.getUint16(2, false);
  if (family === 2) return `${a.subarray(4, 8).join(".")}:${port}`;
  if (family === 10 && a.length >= 24) {
    const groups = Array.from({ length: 8 }, (_, i) => v.getUint16(8 + 2 * i, false).toString(16));
    return `[${groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::")}]:${port}`;
  }
  return undefined;
}

/** The tail's fields: server name, share (UNC) and address, where the event had them. */
export function decodeConnTail(tail: Uint8Array | undefined): { server?: string; share?: string; address?: string } {
  if (!tail || tail.length < 188) return {};
  const server = cString(tail.subarray(0, 64));
  const share = cString(tail.subarray(64, 160));
  return { server: server || undefined, share: share || undefined, address: sockaddrText(tail.subarray(160, 188)) };
}

/** The server of a UNC path (\\server\share). */
const serverOf = (unc: string | undefined) => unc?.match(/^\\\\([^\\]+)/)?.[1];

export const smbconnKind: EventKind = {
  id: 2,
  name: "smbconn",
  aliases: [],
  commands: CONN_KIND_TABLE,
  marker: "conn_kind",
  toLine(e: DecodedEvent, resolvedShare?: string): EventLine {
    const t = decodeConnTail(e.tail);
    const share = t.share ?? resolvedShare;
    const line: EventLine = { time_ns: e.timeNs, tool: "smbconn", conn_kind: CONN_KIND_TABLE.name(e.command) };
    line.server = t.server ?? serverOf(share) ?? t.address ?? "";
    if (t.address) line.address = t.address;
    if (e.rc !== 0) line.errno = errnoName(e.rc);
    line.pid = e.pid;
    line.comm = e.comm;
    if (e.sessionId) line.session_id = `0x${e.sessionId.toString(16)}`;
    if (e.treeId) line.tree_id = `0x${e.treeId.toString(16)}`;
    if (e.mid) line.conn_id = `0x${e.mid.toString(16)}`;
    if (share) line.share = share;
    return line;
  },
  fromLine(l) {
    const command = lineCommand(CONN_KIND_TABLE, l, "conn_kind");
    const errno = l.errno === undefined ? 0 : errnoFromName(l.errno);
    if (errno === undefined)
      throw new Error(`"errno" must be an errno name such as ECONNREFUSED, found ${JSON.stringify(l.errno)}`);
    return { latencyNs: 0, command, rc: -errno };
  },
  traceColumn: (l) => `${l.server}${l.errno ? ` ${l.errno}` : ""}`,
  summaryKey: (l) => `${l.conn_kind} ${l.server}${l.errno ? ` ${l.errno}` : ""}`,
};

export const smbconn = defineTool<SmbconnFilter, unknown>({
  name: "smbconn",
  protocol: "smb",
  object: smbconnObj,
  objectName: "smbconn",
  kind: smbconnKind,
  lostIndex: 2,
  sharedMaps: ["events", "lost"],
  mergeFilters: (fs) => ({
    kinds: [...new Set((fs as readonly SmbconnFilter[]).flatMap((f) => f.kinds))].sort((a, b) => a - b),
  }),
  skip: (filter) => (filter.kinds.length ? undefined : "no connection event kind tracked"),
  skipText: (why) => `connection events not traced: ${why}`,
  variants: [
    {
      name: "tracepoint",
      probe: () => {
        const h = connHooks();
        return h.hooks.length
          ? { ok: true, why: describeHooks(h) }
          : { ok: false, why: "no cifs connection tracepoint in tracefs" };
      },
    },
  ],
  check: {
    name: "connection",
    run: () => {
      const h = connHooks();
      return { ok: h.hooks.length > 0, detail: h.hooks.length ? describeHooks(h) : "no cifs connection tracepoint" };
    },
  },

  refill(obj, filter) {
    const mask = filter.kinds.reduce((m, k) => m | (1 << k), 0) >>> 0;
    obj.map("kind_mask").update(new Uint32Array([0]), new Uint32Array([mask]));
  },

  load({ filter, base, opts }) {
    const { hooks } = connHooks();
    const obj = BpfObject.openMem(readFileSync(smbconnObj), "smbconn");
    try {
      const present = new Set(hooks.map((h) => `smbconn_${h.event}`));
      for (const p of obj.programs()) p.setAutoload(present.has(p.name));
      for (const m of this.sharedMaps ?? []) obj.map(m).reuse(base!.map(m));
      obj.load();
      this.refill!(obj, filter, opts);
      const desc = obj.map("conn_desc");
      for (const h of hooks) desc.update(new Uint32Array([h.slot]), h.desc);
      for (const h of hooks) obj.program(`smbconn_${h.event}`).attachTracepoint("cifs", h.event);
      return { obj, variant: "tracepoint", via: hooks.map((h) => `cifs:${h.event}`).join(" + ") };
    } catch (e) {
      obj.close();
      throw e;
    }
  },
});
