// smbslower: the latency of every SMB2 request (bpf/smbslower.bpf.c). It owns
// the SMB ring buffer and the maps smberr shares; it loads whenever the SMB
// tools attach (it also times errors and names their issuer), and reports
// latency events only for the commands some rule gives a threshold.
import { readFileSync } from "node:fs";
import smbslowerObj from "../../build/bpf/smbslower.bpf.o" with { type: "file" };
import { smbEventLine } from "../format/event";
import { SMB2_COMMAND_TABLE } from "../format/smb2-commands";
import { ShareResolver } from "../host/shares";
import { BpfObject, numPossibleCpus } from "../native/libbpf";
import type { AttachPlan } from "./attach-plan";
import { readPercpuU64, readShareHistograms } from "./hist";
import { commandMask } from "./smberr";
import { defineTool, type EventKind, lineCommand } from "./spec";

/** What latency rules ask of smbslower: a threshold per SMB2 command (ms; null = not reported). */
export interface SmbslowerFilter {
  thresholdsMs: readonly (number | null)[];
}

export const UNTRACKED = 0xffffffffffffffffn;

// Shares of the per-share histograms, from DebugData (procfs: no mount touched).
let shares: ShareResolver | undefined;
const smbShares = () => {
  shares ??= new ShareResolver();
  return shares;
};

/** The lowest threshold per command over every rule's (null = no rule tracks it). */
export function mergeThresholds(filters: readonly SmbslowerFilter[], count: number): (number | null)[] {
  const out: (number | null)[] = new Array(count).fill(null);
  for (const f of filters)
    f.thresholdsMs.forEach((t, i) => {
      if (t !== null && (out[i] === null || t < out[i]!)) out[i] = t;
    });
  return out;
}

/** Contents of smbslower's `thresholds` map (ns; UNTRACKED = never report). `commands` restricts. */
export function thresholdMapValues(
  thresholdsMs: readonly (number | null)[],
  commands?: readonly number[],
): BigUint64Array {
  const n = SMB2_COMMAND_TABLE.names.length;
  const out = new BigUint64Array(n).fill(UNTRACKED);
  for (let i = 0; i < n; i++) {
    const t = thresholdsMs[i];
    if (t === null || t === undefined || (commands && !commands.includes(i))) continue;
    out[i] = BigInt(Math.round(t * 1e6));
  }
  return out;
}

export const smbslowerKind: EventKind = {
  id: 0,
  name: "smbslower",
  aliases: [],
  commands: SMB2_COMMAND_TABLE,
  marker: "latency_ms",
  toLine: (e, share) => smbEventLine(e, "smbslower", { latency_ms: Number(e.latencyNs) / 1e6 }, share),
  fromLine(l) {
    const command = lineCommand(SMB2_COMMAND_TABLE, l);
    if (typeof l.latency_ms !== "number" || !(l.latency_ms >= 0))
      throw new Error(`"latency_ms" must be a number >= 0, found ${JSON.stringify(l.latency_ms)}`);
    return { latencyNs: l.latency_ms * 1e6, command, rc: 0 };
  },
  traceColumn: (l) => l.latency_ms!.toFixed(3),
};

/** The release function to hook with this variant, if any. */
function releaseFor(variant: string, plan: AttachPlan): string | undefined {
  const r = plan.release;
  if (!r || (variant !== "fentry" && variant !== "kprobe")) return undefined;
  return variant === "kprobe" && !r.inKallsyms ? undefined : r.fn;
}

/** Programs per variant (every other program of the object is not loaded). */
export const PROGRAMS: Record<string, readonly string[]> = {
  fentry: ["smbslower_alloc_fentry", "smbslower_done_fentry"],
  kprobe: ["smbslower_alloc_kprobe", "smbslower_done_kprobe"],
  tracepoint: ["smbslower_enter_tp", "smbslower_done_tp", "smbslower_err_tp"],
};
/** The release hook's program per variant, by the position of the mid argument. */
export const RELEASE_PROGRAMS: Record<string, readonly string[]> = {
  fentry: ["smbslower_release_fentry", "smbslower_release1_fentry"],
  kprobe: ["smbslower_release_kprobe", "smbslower_release_kprobe"],
};

const probe = (name: string) => (plan: AttachPlan) => {
  const c = plan.available.find((x) => x.name === name);
  return { ok: !!c?.ok, why: c?.why ?? "not probed" };
};

export const smbslower = defineTool<SmbslowerFilter, AttachPlan>({
  name: "smbslower",
  protocol: "smb",
  object: smbslowerObj,
  objectName: "smbslower",
  kind: smbslowerKind,
  lostIndex: 0,
  ring: "events",
  histMap: "hist",
  mergeFilters: (fs) => ({
    thresholdsMs: mergeThresholds(fs as readonly SmbslowerFilter[], SMB2_COMMAND_TABLE.names.length),
  }),
  order: (plan) => plan.order,
  variants: ["fentry", "kprobe", "tracepoint"].map((name) => ({
    name,
    probe: probe(name),
    optional: (plan: AttachPlan) => releaseFor(name, plan) && `release hook ${releaseFor(name, plan)}`,
  })),
  shareHistograms: (obj) =>
    readShareHistograms(obj.map("share_hist"), 16, "smb", (k) => {
      const tree = k.getUint32(8, true);
      return {
        command: SMB2_COMMAND_TABLE.name(k.getUint16(12, true)),
        share: tree ? (smbShares().resolve(k.getBigUint64(0, true), tree) ?? "unknown") : "none",
      };
    }),
  noOptional(variant, plan, error) {
    if (variant === "tracepoint") return "";
    const r = plan.release;
    if (error) return `no release hook (${r?.fn}: ${error})`;
    return `no release hook (${r ? `${r.fn} not in /proc/kallsyms` : "no known release function in the cifs BTF"})`;
  },

  refill(obj, filter, opts) {
    const map = obj.map("thresholds");
    thresholdMapValues(filter.thresholdsMs, opts.commands).forEach((v, i) => {
      map.update(new Uint32Array([i]), new BigUint64Array([v]));
    });
  },

  load({ plan, filter, opts }, variant, withOptional) {
    const releaseFn = withOptional ? releaseFor(variant, plan) : undefined;
    const obj = BpfObject.openMem(readFileSync(smbslowerObj), "smbslower");
    try {
      const want = new Set(PROGRAMS[variant] ?? []);
      const relProg = releaseFn ? RELEASE_PROGRAMS[variant]?.[plan.release!.arg] : undefined;
      for (const p of obj.programs()) p.setAutoload(want.has(p.name) || p.name === relProg);
      if (relProg && variant === "fentry") obj.program(relProg).setAttachTarget(releaseFn!);
      obj.setRodata({
        alloc_arg_shdr: plan.args.allocShdr,
        alloc_arg_server: plan.args.allocServer,
        done_arg_mid: plan.args.doneMid,
        share_hist_on: !!opts.shareHistograms,
        rel_mode: relProg ? plan.release!.mode : 0,
        rel_arg: relProg ? plan.release!.arg : 0,
        filter_tgid: opts.pid ?? 0,
        err_command_mask: commandMask(opts.commands),
        tp_off: Uint16Array.from(plan.tpOffsets.flat()),
      });
      obj.map("events").setMaxEntries(opts.ringBytes ?? 1 << 22);
      obj.load();
      this.refill!(obj, filter, opts);
      for (const name of want) obj.program(name).attach();
      if (relProg && variant === "kprobe") obj.program(relProg).attachKprobe(releaseFn!);
      else if (relProg) obj.program(relProg).attach();
      return { obj, variant, detail: releaseFn ? `release hook ${releaseFn}` : "" };
    } catch (e) {
      obj.close();
      throw e;
    }
  },
});

export interface SmbCounters {
  starts: bigint;
  done: bigint;
  noStart: bigint;
  emitted: bigint;
  /** Completed by the release hook: freed without a response. */
  released: bigint;
  /** Starts that took an in-flight slot still holding another request (never completed, or collided). */
  evicted: bigint;
  /** Completions whose slot another CPU was rewriting: dropped, never matched to the wrong start. */
  torn: bigint;
}

/** How smbslower's hooks fired since attach (coverage diagnostics). */
export function smbCounters(obj: BpfObject): SmbCounters {
  const m = obj.map("counters");
  const cpus = numPossibleCpus();
  const at = (i: number) => readPercpuU64(m, i, cpus);
  return {
    starts: at(0),
    done: at(1),
    noStart: at(2),
    emitted: at(3),
    released: at(4),
    evicted: at(5),
    torn: at(6),
  };
}
