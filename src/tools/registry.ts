// The SMB tools as data: which object, which programs per hook variant, which
// maps, and how the config fills them. smb-source.ts does the loading.
import smberrObj from "../../build/bpf/smberr.bpf.o" with { type: "file" };
import smbslowerObj from "../../build/bpf/smbslower.bpf.o" with { type: "file" };
import { SMB2_COMMAND_COUNT } from "../format/smb2-commands";
import type { Config } from "../config/validate";
import { type HookVariant, OP_ERR_EVENTS, opErrProgram } from "./attach-plan";

export type SmbToolName = "smbslower" | "smbiosnoop";

export interface ToolSpec {
  /** Name in configs and event lines. */
  name: SmbToolName;
  /** Object file (embedded) and the name the programs are written under. */
  object: string;
  source: string;
  /** Programs to load per hook variant; every other program is not loaded. */
  programs: Partial<Record<HookVariant | "any" | "connect" | "opErr", string[]>>;
  /** Optional programs per variant, attached to the plan's release function (see AttachPlan.release), by argument position. */
  releasePrograms?: Partial<Record<HookVariant, string[]>>;
  /** Maps it shares with smbslower (one ring, one lost counter, the correlation maps). */
  sharedMaps: string[];
  /** Index in the `lost` map (enum aod_tool). */
  lostIndex: number;
}

export const SHARED_MAPS = ["events", "lost", "inflight", "recent", "errnos"];

export const TOOLS: Record<SmbToolName, ToolSpec> = {
  smbslower: {
    name: "smbslower",
    object: smbslowerObj,
    source: "bpf/smbslower.bpf.c",
    programs: {
      fentry: ["smbslower_alloc_fentry", "smbslower_done_fentry"],
      kprobe: ["smbslower_alloc_kprobe", "smbslower_done_kprobe"],
      tracepoint: ["smbslower_enter_tp", "smbslower_done_tp", "smbslower_err_tp"],
    },
    releasePrograms: {
      fentry: ["smbslower_release_fentry", "smbslower_release1_fentry"],
      kprobe: ["smbslower_release_kprobe", "smbslower_release_kprobe"],
    },
    sharedMaps: [],
    lostIndex: 0,
  },
  smbiosnoop: {
    name: "smbiosnoop",
    object: smberrObj,
    source: "bpf/smberr.bpf.c",
    // any: always; connect: cifs:smb3_connect_err; opErr: one per per-operation cifs:smb3_*_err event (loaded when present).
    programs: {
      any: ["smberr_cmd_err"],
      connect: ["smberr_connect_err"],
      opErr: Object.keys(OP_ERR_EVENTS).map(opErrProgram),
    },
    sharedMaps: SHARED_MAPS,
    lostIndex: 1,
  },
};

export const UNTRACKED = 0xffffffffffffffffn;
export const ERRNO_SLOTS = 1024;

/** Per-command latency thresholds of the config: the lowest over its latency rules (null = no rule tracks it). */
export function configThresholdsMs(config: Config): (number | null)[] {
  const out: (number | null)[] = new Array(SMB2_COMMAND_COUNT).fill(null);
  for (const r of config.rules) {
    if (r.type !== "latency") continue;
    r.thresholdsMs.forEach((t, i) => {
      if (t !== null && (out[i] === null || t < out[i]!)) out[i] = t;
    });
  }
  return out;
}

/** Errnos any error rule of the config tracks. */
export function configErrnos(config: Config): number[] {
  const s = new Set<number>();
  for (const r of config.rules) if (r.type === "error") for (const e of r.errnos) s.add(e);
  return [...s].sort((a, b) => a - b);
}

/** Contents of smbslower's `thresholds` map (ns; UNTRACKED = never report). `commands` restricts. */
export function thresholdMapValues(
  thresholdsMs: readonly (number | null)[],
  commands?: readonly number[],
): BigUint64Array {
  const out = new BigUint64Array(SMB2_COMMAND_COUNT).fill(UNTRACKED);
  for (let i = 0; i < SMB2_COMMAND_COUNT; i++) {
    const t = thresholdsMs[i];
    if (t === null || t === undefined || (commands && !commands.includes(i))) continue;
    out[i] = BigInt(Math.round(t * 1e6));
  }
  return out;
}

/** Contents of smberr's `errnos` map: 1 at each tracked errno. */
export function errnoMapValues(errnos: readonly number[]): Uint8Array {
  const out = new Uint8Array(ERRNO_SLOTS);
  for (const e of errnos) out[Math.min(Math.abs(e), ERRNO_SLOTS - 1)] = 1;
  return out;
}

/** smberr's `command_mask` rodata: bit per SMB2 command reported. */
export function commandMask(commands?: readonly number[]): number {
  if (!commands) return 0xffffffff;
  let m = 0;
  for (const c of commands) if (c >= 0 && c < 32) m |= 1 << c;
  return m >>> 0;
}
