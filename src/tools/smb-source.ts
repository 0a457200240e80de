// SmbSource: the SMB tools (smbslower, smberr) as an EventSource. Probes the
// kernel for the best hooks (./attach-plan.ts), loads and attaches them, owns
// every link and the ring buffer, and follows the cifs module: attaches within
// `pollMs` of it loading, detaches when it goes away, and waits again.
import { readFileSync } from "node:fs";
import type { Config } from "../config/validate";
import { log } from "../log";
import { BpfObject, numPossibleCpus } from "../native/libbpf";
import { errorMessage } from "../util/errors";
import {
  type AttachPlan,
  CONNECT_EVENT,
  cifsInstance,
  cifsLoaded,
  describeAttachPlan,
  type HookVariant,
  localErrnoMask,
  opDescValue,
  opErrProgram,
} from "./attach-plan";
import type { EventBatch } from "../format/event";
import { type CommandHistogram, readHistograms, readPercpuU64 } from "./hist";
import { reuseMap } from "./native-extra";
import {
  commandMask,
  configErrnos,
  configThresholdsMs,
  errnoMapValues,
  SHARED_MAPS,
  type SmbToolName,
  TOOLS,
  thresholdMapValues,
} from "./registry";
import { RingReader } from "./ring-reader";
import { currentClockOffset, type EventSource } from "./source";

/** For the daemon: share names for trigger events (see ./shares.ts). */
export { enrichWithShares } from "../host/shares";

export interface SmbSourceOptions {
  /** Thresholds and errnos come from its rules unless overridden below. */
  config?: Config;
  /** Tools to report (default both). smbslower's hooks always load: they also time errors and name their issuer. */
  tools?: SmbToolName[];
  /** Latency threshold per SMB2 command id in ms (null = not reported); overrides the config (`aod trace --min-ms`). */
  thresholdsMs?: (number | null)[];
  /** Errno numbers to report; overrides the config. */
  errnos?: number[];
  /** Only these SMB2 command ids (`aod trace --command`). */
  commands?: number[];
  /** Only this process (tgid). */
  pid?: number;
  /** Ring buffer size in bytes (power of 2, ≥ page size). Default 4 MiB. */
  ringBytes?: number;
  /** How often to look for cifs loading/unloading (ms). Default 2000. */
  pollMs?: number;
  /** Hook variants to try, best first (default: fentry, kprobe, tracepoint; or $AOD_SMB_HOOKS). */
  hooks?: HookVariant[];
}

export interface SmbCounters {
  starts: bigint;
  done: bigint;
  noStart: bigint;
  emitted: bigint;
  /** Completed by the release hook: freed without a response. */
  released: bigint;
}

interface Attached {
  slower: BpfObject;
  err?: BpfObject;
  reader: RingReader;
  variant: HookVariant;
  plan: AttachPlan;
  errorsWhy: string;
  /** cifsInstance() when attached. */
  instance: string;
}

export class SmbSource implements EventSource {
  /** While cifs is loaded but attaching failed, how often to try again. */
  static RETRY_MS = 30_000;
  readonly name = "smb";
  readonly clock = currentClockOffset();
  private att?: Attached;
  private timer?: ReturnType<typeof setInterval>;
  private onBatch?: (b: EventBatch) => void;
  private pending: Promise<void> = Promise.resolve();
  private failedWhy?: string; // attach failed while cifs stayed loaded
  private failedAt = 0;
  private lostBase: Record<string, bigint> = { smbslower: 0n, smbiosnoop: 0n };
  private closed = false;
  private readonly thresholdsMs: (number | null)[];
  private readonly errnos: number[];
  private readonly tools: Set<SmbToolName>;
  /** Whether the release hook is used, and why not. */
  releaseWhy = "";
  /** Why each variant tried at the last attach failed (for logs and `aod check`). */
  attempts: { variant: HookVariant; error: string }[] = [];

  constructor(private readonly opts: SmbSourceOptions = {}) {
    this.tools = new Set(opts.tools ?? ["smbslower", "smbiosnoop"]);
    const th = opts.thresholdsMs ?? (opts.config ? configThresholdsMs(opts.config) : []);
    this.thresholdsMs = this.tools.has("smbslower") ? th : [];
    this.errnos = opts.errnos ?? (opts.config ? configErrnos(opts.config) : []);
  }

  async start(onBatch: (b: EventBatch) => void): Promise<void> {
    this.onBatch = onBatch;
    this.poll();
    await this.pending;
    this.timer = setInterval(() => this.poll(), this.opts.pollMs ?? 2000);
  }

  /** True while the tools are attached. */
  get attached(): boolean {
    return !!this.att;
  }
  /** Why cifs is loaded but not traced, if so. */
  get failure(): string | undefined {
    return this.att ? undefined : this.failedWhy;
  }
  get variant(): HookVariant | undefined {
    return this.att?.variant;
  }

  private poll(): void {
    if (this.closed) return;
    const loaded = cifsLoaded();
    if (loaded && !this.att && (!this.failedWhy || performance.now() - this.failedAt >= SmbSource.RETRY_MS)) {
      try {
        this.attach();
        this.failedWhy = undefined;
      } catch (e) {
        // Logged once; retried quietly every RETRY_MS (a permanent cause stays permanent).
        if (this.failedWhy !== errorMessage(e)) log.error(`cifs is loaded but cannot be traced: ${errorMessage(e)}`);
        else log.debug(`cifs still cannot be traced: ${errorMessage(e)}`);
        this.failedWhy = errorMessage(e);
        this.failedAt = performance.now();
      }
    } else if (loaded && this.att && cifsInstance() !== this.att.instance) {
      // Unloaded and loaded again between two polls: the old hooks are gone.
      log.info("cifs module was reloaded: attaching the SMB tools again");
      this.pending = this.pending.then(() => this.detach());
    } else if (!loaded) {
      this.failedWhy = undefined;
      if (this.att) {
        log.info("cifs module unloaded: detached the SMB tools; waiting for it to load again");
        this.pending = this.pending.then(() => this.detach());
      }
    }
  }

  private attach(): void {
    const plan = describeAttachPlan(this.opts.hooks);
    this.attempts = [];
    let slower: BpfObject | undefined;
    let variant: HookVariant | undefined;
    for (const v of plan.order) {
      const check = plan.available.find((c) => c.name === v)!;
      if (!check.ok) {
        this.attempts.push({ variant: v, error: check.why });
        continue;
      }
      const release = this.releaseFor(v, plan);
      try {
        slower = this.loadSlower(v, plan, release);
        variant = v;
        this.releaseWhy =
          v === "tracepoint"
            ? ""
            : release
              ? `release hook ${release}`
              : `no release hook (${plan.release ? `${plan.release.fn} not in /proc/kallsyms` : "no known release function in the cifs BTF"})`;
        break;
      } catch (e) {
        let failure = e;
        log.debug(`smbslower: ${v}${release ? ` with release hook ${release}` : ""} failed: ${errorMessage(e)}`);
        if (release) {
          // The release hook is optional: try the variant once more without it.
          try {
            slower = this.loadSlower(v, plan, undefined);
            variant = v;
            this.releaseWhy = `no release hook (${release}: ${errorMessage(e).split("\n")[0]})`;
            break;
          } catch (e2) {
            failure = e2;
          }
        }
        this.attempts.push({ variant: v, error: errorMessage(failure) });
      }
    }
    if (!slower || !variant)
      throw new Error(
        `no usable hooks (${this.attempts.map((a) => `${a.variant}: ${a.error.split("\n")[0]}`).join("; ")})`,
      );

    let err: BpfObject | undefined;
    let errorsWhy = "errors not requested";
    if (this.tools.has("smbiosnoop")) {
      if (!plan.errors.ok) errorsWhy = `errors not traced: ${plan.errors.why}`;
      else if (!this.errnos.length) errorsWhy = "errors not traced: no errno tracked";
      else
        try {
          err = this.loadErr(plan, slower);
          const extra = [
            plan.connectRcOff !== null ? `cifs:${CONNECT_EVENT}` : "",
            plan.opErrs.length ? `${plan.opErrs.length} cifs:smb3_*_err events` : "",
          ].filter(Boolean);
          errorsWhy = `smbiosnoop via cifs:smb3_cmd_err${extra.length ? ` + ${extra.join(" + ")}` : ""}`;
        } catch (e) {
          errorsWhy = `errors not traced: ${errorMessage(e)}`;
          log.warn(`smbiosnoop: ${errorMessage(e)}`);
        }
    }
    let reader: RingReader;
    try {
      reader = new RingReader(slower.map("events"), (b) => this.onBatch?.(b));
      reader.start();
    } catch (e) {
      err?.close();
      slower.close();
      throw e;
    }
    this.att = { slower, err, reader, variant, plan, errorsWhy, instance: cifsInstance() };
    const skipped = this.attempts.length
      ? ` (skipped ${this.attempts.map((a) => `${a.variant}: ${a.error.split("\n")[0]}`).join("; ")})`
      : "";
    const rel = variant === "tracepoint" ? "" : `, ${this.releaseWhy}`;
    log.info(`cifs: attached smbslower via ${variant}${rel}${skipped}; ${errorsWhy}`);
  }

  /** The release function to hook with this variant, if any. */
  private releaseFor(variant: HookVariant, plan: AttachPlan): string | undefined {
    const r = plan.release;
    if (!r || !TOOLS.smbslower.releasePrograms?.[variant]) return undefined;
    return variant === "kprobe" && !r.inKallsyms ? undefined : r.fn;
  }

  private loadSlower(variant: HookVariant, plan: AttachPlan, releaseFn: string | undefined): BpfObject {
    const spec = TOOLS.smbslower;
    const obj = BpfObject.openMem(readFileSync(spec.object), "smbslower");
    try {
      const want = new Set(spec.programs[variant] ?? []);
      const relProg = releaseFn ? spec.releasePrograms?.[variant]?.[plan.release!.arg] : undefined;
      for (const p of obj.programs()) p.setAutoload(want.has(p.name) || p.name === relProg);
      if (relProg && variant === "fentry") obj.program(relProg).setAttachTarget(releaseFn!);
      obj.setRodata({
        alloc_arg_shdr: plan.args.allocShdr,
        alloc_arg_server: plan.args.allocServer,
        done_arg_mid: plan.args.doneMid,
        rel_mode: relProg ? plan.release!.mode : 0,
        rel_arg: relProg ? plan.release!.arg : 0,
        filter_tgid: this.opts.pid ?? 0,
        err_command_mask: commandMask(this.opts.commands),
        tp_off: Uint16Array.from(plan.tpOffsets.flat()),
      });
      obj.map("events").setMaxEntries(this.opts.ringBytes ?? 1 << 22);
      obj.load();
      this.fillThresholds(obj);
      for (const name of want) obj.program(name).attach();
      if (relProg && variant === "kprobe") obj.program(relProg).attachKprobe(releaseFn!);
      else if (relProg) obj.program(relProg).attach();
      return obj;
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  private loadErr(plan: AttachPlan, slower: BpfObject): BpfObject {
    const spec = TOOLS.smbiosnoop;
    const obj = BpfObject.openMem(readFileSync(spec.object), "smberr");
    try {
      obj.setRodata({
        tp_off: Uint16Array.from(plan.tpOffsets[2]!),
        filter_tgid: this.opts.pid ?? 0,
        command_mask: commandMask(this.opts.commands),
        connect_rc_off: plan.connectRcOff ?? 0,
        local_errnos: localErrnoMask(),
      });
      const connectProg = spec.programs.connect?.[0];
      if (connectProg) obj.program(connectProg).setAutoload(plan.connectRcOff !== null);
      const present = new Set(plan.opErrs.map((h) => opErrProgram(h.event)));
      for (const name of spec.programs.opErr ?? []) obj.program(name).setAutoload(present.has(name));
      for (const m of SHARED_MAPS) reuseMap(obj.map(m), slower.map(m));
      obj.load();
      const vals = errnoMapValues(this.errnos);
      const map = obj.map("errnos");
      for (const [i, v] of vals.entries()) if (v) map.update(new Uint32Array([i]), new Uint8Array([v]));
      for (const name of spec.programs.any!) obj.program(name).attach();
      // Failures outside the request lifecycle (server unreachable): see bpf/smberr.bpf.c.
      if (connectProg && plan.connectRcOff !== null) obj.program(connectProg).attachTracepoint("cifs", CONNECT_EVENT);
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
      return obj;
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  private fillThresholds(obj: BpfObject): void {
    const vals = thresholdMapValues(this.thresholdsMs, this.opts.commands);
    const map = obj.map("thresholds");
    for (const [i, v] of vals.entries()) map.update(new Uint32Array([i]), new BigUint64Array([v]));
  }

  /** Replaces the latency thresholds in place (e.g. after a config reload). */
  setThresholds(thresholdsMs: (number | null)[]): void {
    this.thresholdsMs.splice(0, this.thresholdsMs.length, ...thresholdsMs);
    if (this.att) this.fillThresholds(this.att.slower);
  }

  private async detach(): Promise<void> {
    const a = this.att;
    if (!a) return;
    this.lostBase = this.lost(); // counts of this attachment survive it
    this.att = undefined;
    await a.reader.close();
    a.err?.close();
    a.slower.close();
  }

  lost(): Record<string, bigint> {
    const out = { ...this.lostBase };
    if (!this.att) return out;
    const map = this.att.slower.map("lost");
    for (const t of Object.values(TOOLS)) out[t.name] = (this.lostBase[t.name] ?? 0n) + readPercpuU64(map, t.lostIndex);
    return out;
  }

  /** How the hooks fired since attach (coverage diagnostics). */
  counters(): SmbCounters | undefined {
    if (!this.att) return undefined;
    const m = this.att.slower.map("counters");
    const cpus = numPossibleCpus();
    return {
      starts: readPercpuU64(m, 0, cpus),
      done: readPercpuU64(m, 1, cpus),
      noStart: readPercpuU64(m, 2, cpus),
      emitted: readPercpuU64(m, 3, cpus),
      released: readPercpuU64(m, 4, cpus),
    };
  }

  /** Per-command latency histograms of every completed command since attach. */
  histograms(): CommandHistogram[] {
    return this.att ? readHistograms(this.att.slower.map("hist")) : [];
  }

  /** Ring records read, and records of the wrong size (should stay 0). */
  readerStats(): { records: number; malformed: number } {
    return { records: this.att?.reader.records ?? 0, malformed: this.att?.reader.malformed ?? 0 };
  }

  status(): string {
    if (this.att) {
      const rel = this.att.variant === "tracepoint" ? "" : `; ${this.releaseWhy}`;
      return `smbslower via ${this.att.variant} (${this.att.plan.available.find((c) => c.name === this.att!.variant)?.why})${rel}; ${this.att.errorsWhy}`;
    }
    if (this.closed) return "closed";
    if (this.failedWhy) return `cifs loaded but not traced: ${this.failedWhy}`;
    return "waiting for cifs (module not loaded)";
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.pending;
    await this.detach();
  }
}
