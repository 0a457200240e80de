// Turns anomalies into bundles with bounded cost: at most `max_concurrent`
// collections at once, a bounded queue behind them, and what overflows is
// counted and logged — never unbounded memory. Replay uses `waitForSlot` so
// that it never drops.
import { runActions } from "../actions/run";
import { anomalyDocument, toJson } from "../bundle/anomaly-json";
import { type BundleMember, writeBundle } from "../bundle/write";
import type { Config } from "../config/validate";
import type { Anomaly } from "../detect/anomaly";
import { anomalyTypeOf } from "../detect/types";
import type { EventLine } from "../format/event";
import { log } from "../log";
import type { FrozenTrace, KernelTraceFacts } from "../recorder/flight-recorder";
import { type CommandHistogram, formatHistograms, histPercentileMs } from "../tools/hist";
import { errorMessage } from "../util/errors";

export interface CollectorHooks {
  /** Adds what only the live side knows (shares) to the trigger events. */
  enrich?: (triggers: EventLine[], actionsData: Map<string, Uint8Array>) => EventLine[];
  lostEvents?: () => Record<string, bigint>;
  histograms?: () => CommandHistogram[];
  onBundle?: (a: Anomaly, path: string, bytes: number) => void;
  onAlert?: (a: Anomaly) => void;
  /** Freezes the flight recorder at detection; the collection reads and releases it. */
  freeze?: () => FrozenTrace | undefined;
  /** No collection running or queued any more. */
  onIdle?: () => void;
}

export class Collector {
  private running = 0;
  private readonly queue: Anomaly[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly frozen = new Map<Anomaly, FrozenTrace>();
  private slotWaiters: (() => void)[] = [];
  dropped = 0;
  completed = 0;
  failed = 0;

  constructor(
    private config: Config,
    private readonly batchesDir: string,
    private readonly hooks: CollectorHooks = {},
    private readonly opts: { noActions?: boolean } = {},
  ) {}

  /** Config reload: later collections use the new actions and limits; queued ones stay queued. */
  reconfigure(config: Config): void {
    this.config = config;
  }

  get busy(): number {
    return this.running;
  }
  get queued(): number {
    return this.queue.length;
  }

  /** Starts or queues a collection; false when the queue is full (counted). */
  submit(a: Anomaly): boolean {
    this.hooks.onAlert?.(a);
    this.freeze(a);
    if (this.running < this.config.collection.max_concurrent) {
      this.start(a);
      return true;
    }
    if (this.queue.length < this.config.collection.queue_size) {
      this.queue.push(a);
      return true;
    }
    this.dropped++;
    this.frozen.get(a)?.release();
    this.frozen.delete(a);
    log.warn("collection queue full: anomaly not collected", {
      anomaly: a.name,
      dropped_total: this.dropped,
      running: this.running,
      queued: this.queue.length,
    });
    return false;
  }

  /** The kernel's recent past, frozen now (detection time), not when the collection starts. */
  private freeze(a: Anomaly): void {
    try {
      const f = this.hooks.freeze?.();
      if (f) this.frozen.set(a, f);
    } catch (e) {
      log.warn("flight recorder: freezing failed", { anomaly: a.name, error: errorMessage(e) });
    }
  }

  /** The frozen trace of `a` as a bundle member and its facts; releases it. */
  private async kernelTrace(a: Anomaly): Promise<{ member?: BundleMember; facts?: KernelTraceFacts }> {
    const f = this.frozen.get(a);
    if (!f) return {};
    this.frozen.delete(a);
    try {
      const { text, facts } = await f.read(a.detectedAtNs);
      return { member: { name: "kernel_trace.log", data: text }, facts };
    } catch (e) {
      return { facts: { error: errorMessage(e) } };
    } finally {
      f.release();
    }
  }

  /** Resolves when a new collection could start at once. */
  async waitForSlot(): Promise<void> {
    while (this.running + this.queue.length >= this.config.collection.max_concurrent)
      await new Promise<void>((r) => this.slotWaiters.push(r));
  }

  private start(a: Anomaly): void {
    this.running++;
    const p = this.collect(a)
      .catch((e) => {
        this.failed++;
        log.error("collection failed", { anomaly: a.name, error: e.message });
      })
      .finally(() => {
        this.running--;
        this.inFlight.delete(p);
        const next = this.queue.shift();
        if (next) this.start(next);
        for (const w of this.slotWaiters.splice(0)) w();
        // Idle again after collecting: return the collections' buffers to the OS.
        if (this.running === 0) {
          Bun.gc(true);
          this.hooks.onIdle?.();
        }
      });
    this.inFlight.add(p);
  }

  private async collect(a: Anomaly): Promise<void> {
    const t0 = performance.now();
    const names = this.opts.noActions
      ? []
      : a.type === "snapshot"
        ? this.config.watcher.actions
        : (a.rule?.actions ?? []);
    const trace = this.kernelTrace(a); // read while the actions run
    const results = await runActions(names, this.config, Number(a.detectedAtNs / 1_000_000n), this.abort.signal);
    const kernelTrace = await trace;
    if (this.abort.signal.aborted) throw new Error("stopped before the bundle was written");
    const data = new Map(results.map((r) => [r.name, r.data]));
    const triggers = this.hooks.enrich ? this.hooks.enrich(a.triggers, data) : a.triggers;
    const withHists = a.type === "snapshot" || (a.rule && anomalyTypeOf(a.rule).withHistograms);
    const hists = withHists ? (this.hooks.histograms?.() ?? []) : [];
    const doc = anomalyDocument(a, triggers, results, this.config, {
      collectedAtMs: Date.now(),
      lostEvents: this.hooks.lostEvents?.(),
      droppedCollections: this.dropped,
      kernelTrace: kernelTrace.facts,
      latency: hists.map((h) => ({
        command: h.command,
        count: h.count,
        p50_ms: histPercentileMs(h, 50),
        p99_ms: histPercentileMs(h, 99),
      })),
    });
    const members: BundleMember[] = [
      ...results.map((r) => ({ name: r.file, data: r.data })),
      { name: "anomaly.json", data: `${toJson(doc)}\n` },
    ];
    // Every command's latency since aod attached: what "normal" looked like.
    if (hists.length) members.push({ name: "latency_histograms.log", data: formatHistograms(hists) });
    if (kernelTrace.member) members.push(kernelTrace.member);
    const { path, bytes } = await writeBundle(
      this.batchesDir,
      a.detectedAtNs,
      members,
      this.config.collection.zstd_level,
      this.abort.signal,
    );
    this.completed++;
    log.info("bundle written", {
      anomaly: a.name,
      type: a.type,
      path,
      bytes,
      ms: Math.round(performance.now() - t0),
      triggers: triggers.length,
    });
    this.hooks.onBundle?.(a, path, bytes);
  }

  /**
   * Stops: drops the queue, lets running collections finish within graceMs,
   * then aborts them (their temporary files are removed by writeBundle).
   */
  async stop(graceMs: number): Promise<void> {
    if (this.queue.length) log.warn("stopping: queued anomalies not collected", { queued: this.queue.length });
    this.queue.length = 0;
    if (!this.inFlight.size) return;
    const all = Promise.all([...this.inFlight]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)));
    const timedOut = await Promise.race([all.then(() => false), grace]);
    clearTimeout(timer);
    if (timedOut) {
      this.abort.abort();
      await all;
    }
  }

  /** Waits for every running and queued collection (replay's end). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }
}
