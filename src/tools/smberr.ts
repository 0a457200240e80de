// smberr (config name smbiosnoop, the prototype's): failed SMB2 requests
// (bpf/smberr.bpf.c): cifs:smb3_cmd_err for errors the server returned, plus
// cifs:smb3_connect_err and the per-operation cifs:smb3_*_err events for
// failures outside the request lifecycle (server down), each attached when this
// kernel has it. It writes into smbslower's ring and reads its correlation maps.
import { readFileSync } from "node:fs";
import smberrObj from "../../build/bpf/smberr.bpf.o" with { type: "file" };
import { errnoName, errnoNumber } from "../format/errno-names";
import { smbEventLine } from "../format/event";
import { ntStatusCode, ntStatusName } from "../format/nt-status";
import { SMB2_COMMAND_TABLE } from "../format/smb2-commands";
import { log } from "../log";
import { type BpfMap, BpfObject } from "../native/libbpf";
import { errorMessage } from "../util/errors";
import {
  type AttachPlan,
  CONNECT_EVENT,
  localErrnoMask,
  OP_ERR_EVENTS,
  opDescValue,
  opErrProgram,
} from "./attach-plan";
import { defineTool, type EventKind, lineCommand } from "./spec";

/** What error rules ask of smberr: the errnos to report. */
export interface SmberrFilter {
  errnos: readonly number[];
}

export const ERRNO_SLOTS = 1024;

/** Contents of smberr's `errnos` map: 1 at each tracked errno. */
export function errnoMapValues(errnos: readonly number[]): Uint8Array {
  const out = new Uint8Array(ERRNO_SLOTS);
  for (const e of errnos) out[Math.min(Math.abs(e), ERRNO_SLOTS - 1)] = 1;
  return out;
}

/** Sets every slot of an `errnos` map: 1 for a tracked errno, 0 for the rest (a reload clears old ones). */
export function fillErrnos(map: BpfMap, errnos: readonly number[]): void {
  errnoMapValues(errnos).forEach((v, i) => {
    map.update(new Uint32Array([i]), new Uint8Array([v]));
  });
}

/** The `command_mask` rodata: bit per SMB2 command reported. */
export function commandMask(commands?: readonly number[]): number {
  if (!commands) return 0xffffffff;
  let m = 0;
  for (const c of commands) if (c >= 0 && c < 32) m |= 1 << c;
  return m >>> 0;
}

/** An errno name, or E<number> for one the table lacks. */
export function errnoFromName(name: unknown): number | undefined {
  if (typeof name !== "string") return undefined;
  const m = /^E(\d+)$/.exec(name);
  return m ? Number(m[1]) : errnoNumber(name);
}

export const smberrKind: EventKind = {
  id: 1,
  name: "smbiosnoop",
  aliases: ["smberr"],
  commands: SMB2_COMMAND_TABLE,
  marker: "errno",
  toLine(e, share) {
    const fields: { errno: string; status?: string; latency_ms?: number } = { errno: errnoName(e.rc) };
    // No status when the server sent none (reconnect, local failure): never a false STATUS_SUCCESS.
    if (e.status !== 0) fields.status = ntStatusName(e.status);
    if (e.latencyNs > 0n) fields.latency_ms = Number(e.latencyNs) / 1e6;
    return smbEventLine(e, "smbiosnoop", fields, share);
  },
  fromLine(l) {
    const command = lineCommand(SMB2_COMMAND_TABLE, l);
    const errno = errnoFromName(l.errno);
    if (errno === undefined)
      throw new Error(`"errno" must be an errno name such as EACCES (or E<number>), found ${JSON.stringify(l.errno)}`);
    const latency = l.latency_ms ?? 0;
    if (typeof latency !== "number" || !(latency >= 0))
      throw new Error(`"latency_ms" must be a number >= 0, found ${JSON.stringify(l.latency_ms)}`);
    const status = l.status === undefined ? 0 : typeof l.status === "string" ? ntStatusCode(l.status) : undefined;
    if (status === undefined)
      throw new Error(
        `"status" must be an NT status name such as STATUS_ACCESS_DENIED (or 0x…), found ${JSON.stringify(l.status)}`,
      );
    return { latencyNs: latency * 1e6, command, rc: -errno, status };
  },
  traceColumn: (l) => `${l.errno} ${l.status}`,
  summaryKey: (l) => `${l.command} ${l.errno} ${l.status}`,
};

/** Its programs: the cmd_err hook always; connect and one per per-operation event when this kernel has them. */
export const PROGRAMS = {
  any: ["smberr_cmd_err"],
  connect: ["smberr_connect_err"],
  opErr: Object.keys(OP_ERR_EVENTS).map(opErrProgram),
} as const;

export const smberr = defineTool<SmberrFilter, AttachPlan>({
  name: "smbiosnoop",
  protocol: "smb",
  object: smberrObj,
  objectName: "smberr",
  kind: smberrKind,
  lostIndex: 1,
  sharedMaps: ["events", "lost", "inflight", "recent", "errnos"],
  mergeFilters: (fs) => ({
    errnos: [...new Set((fs as readonly SmberrFilter[]).flatMap((f) => f.errnos))].sort((a, b) => a - b),
  }),
  skip(filter, plan) {
    if (!plan.errors.ok) return plan.errors.why;
    if (!filter.errnos.length) return "no errno tracked";
    return undefined;
  },
  skipText: (why) => `errors not traced: ${why}`,
  variants: [{ name: "tracepoint", probe: (plan) => ({ ok: plan.errors.ok, why: plan.errors.why }) }],
  check: { name: "errors", run: (plan) => ({ ok: plan.errors.ok, detail: plan.errors.why }) },

  refill: (obj, filter) => fillErrnos(obj.map("errnos"), filter.errnos),

  load({ plan, filter, opts, base }) {
    const obj = BpfObject.openMem(readFileSync(smberrObj), "smberr");
    try {
      obj.setRodata({
        tp_off: Uint16Array.from(plan.tpOffsets[2]!),
        filter_tgid: opts.pid ?? 0,
        command_mask: commandMask(opts.commands),
        connect_rc_off: plan.connectRcOff ?? 0,
        local_errnos: localErrnoMask(),
      });
      const connectProg = PROGRAMS.connect[0];
      obj.program(connectProg).setAutoload(plan.connectRcOff !== null);
      const present = new Set(plan.opErrs.map((h) => opErrProgram(h.event)));
      for (const name of PROGRAMS.opErr) obj.program(name).setAutoload(present.has(name));
      for (const m of this.sharedMaps ?? []) obj.map(m).reuse(base!.map(m));
      obj.load();
      this.refill!(obj, filter, opts);
      for (const name of PROGRAMS.any) obj.program(name).attach();
      // Failures outside the request lifecycle (server unreachable): see bpf/smberr.bpf.c.
      if (plan.connectRcOff !== null) obj.program(connectProg).attachTracepoint("cifs", CONNECT_EVENT);
      if (plan.opErrs.length) {
        const desc = obj.map("op_desc");
        for (const h of plan.opErrs) desc.update(new Uint32Array([h.index]), opDescValue(h));
        for (const h of plan.opErrs) {
          try {
            obj.program(opErrProgram(h.event)).attachTracepoint("cifs", h.event);
          } catch (e) {
            log.debug(`smbiosnoop: cifs:${h.event}: ${errorMessage(e)}`); // one event less; the others still count
          }
        }
      }
      const extra = [
        plan.connectRcOff !== null ? `cifs:${CONNECT_EVENT}` : "",
        plan.opErrs.length ? `${plan.opErrs.length} cifs:smb3_*_err events` : "",
      ].filter(Boolean);
      return { obj, variant: "tracepoint", via: `cifs:smb3_cmd_err${extra.length ? ` + ${extra.join(" + ")}` : ""}` };
    } catch (e) {
      obj.close();
      throw e;
    }
  },
});
