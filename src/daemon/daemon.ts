// `aod run`: the event source feeds the pipeline; retention runs beside it;
// signals stop it cleanly (SIGINT/SIGTERM) or ask for a snapshot (SIGUSR1).
// A component that throws is restarted with backoff, counted and audited.
import { hostname } from "node:os";
import { restoreVerboseLeftovers } from "../actions/builtin/cifs_verbose";
import { ensureOutputDir } from "../bundle/output-dir";
import type { Config } from "../config/validate";
import type { Anomaly } from "../detect/anomaly";
import { anomalyTypeOf, toolFilters } from "../detect/types";
import type { EventBatch } from "../format/event";
import { log } from "../log";
import type { Metrics } from "../metrics/metrics";
import type { FlightRecorder } from "../recorder/flight-recorder";
import { removeLeftovers, runRetention } from "../retention/retention";
import { toEventLine } from "../tools/registry";
import type { EventSource } from "../tools/source";
import { protocolsOf } from "../tools/sources";
import type { Uploader } from "../upload/uploader";
import { errorMessage } from "../util/errors";
import { VERSION } from "../version";
import { auditRestart } from "./audit";
import type { CollectorHooks } from "./collector";
import { InstanceLock } from "./lock";
import { Pipeline, type PipelineOptions } from "./pipeline";
import { cancelSettle, noteEvents, settleSoon } from "./settle";

/**
 * Keys a reload cannot change in a running daemon (the output dir is locked
 * and cleaned at start; the recorder's instance is sized at start; metrics
 * listen and keep their share labels from the start; the upload lane keeps
 * its target and state database).
 */
const RESTART_KEYS = ["aod_output_dir", "flight_recorder", "metrics", "upload", "state_dir"] as const;

export interface DaemonOptions {
  config: Config;
  source: EventSource;
  /** Adds shares to trigger events (from DebugData), when the source knows how. */
  enrich?: (
    lines: import("../format/event").EventLine[],
    actionsData: Map<string, Uint8Array>,
  ) => import("../format/event").EventLine[];
  lockPath?: string;
  onReady?: () => void;
  /** The kernel flight recorder, started before the source (which enables its events on attach). */
  recorder?: FlightRecorder;
  /** The Prometheus exposition (`metrics:` configured): see the metrics section below. */
  metrics?: Metrics;
  /** Bundles to object storage (`upload:` configured): fed each bundle, asked by retention. */
  uploader?: Uploader;
  /** Reads the config again (SIGHUP, `systemctl reload aod`); throws with its problems when it is invalid. */
  reload?: () => Config;
}

export class Daemon {
  private pipeline!: Pipeline;
  private retentionTimer?: ReturnType<typeof setInterval>;
  private lock?: InstanceLock;
  private stopping?: Promise<void>;
  private readonly restarts = new Map<string, number>();
  batchErrors = 0;
  private batchesDir = "";
  private done!: () => void;
  readonly finished = new Promise<void>((r) => (this.done = r));

  constructor(private readonly opts: DaemonOptions) {}

  async start(): Promise<void> {
    const { config, source } = this.opts;
    this.lock = InstanceLock.acquire(this.opts.lockPath);
    try {
      this.batchesDir = ensureOutputDir(config.aod_output_dir);
      removeLeftovers(this.batchesDir);
      const restored = restoreVerboseLeftovers(); // a cifs_verbose window a crash or kill left open
      if (restored)
        log.warn("verbose windows (cifs_verbose, nfs_verbose): restored the settings of an interrupted window", {
          restored,
        });
      this.pipeline = new Pipeline(config, this.batchesDir, {
        describe: (b, i) => toEventLine(b.decode(i, source.clock)),
        wallNs: (t) => source.clock.toWall(BigInt(Math.round(t))),
        hooks: {
          enrich: this.opts.enrich,
          lostEvents: () => source.lost(),
          histograms: source.histograms ? () => source.histograms!() : undefined,
          freeze: () => this.recorder?.freeze(),
          onIdle: () => settleSoon(),
          ...this.metricsHooks().collector,
        },
        ...this.metricsHooks().pipeline,
      });
      this.startRecorder();
      await this.supervise("event source", () => source.start((b) => this.onBatch(b)));
      this.startRetentionTimer();
      this.guard("retention", () => this.retention());
      this.startUpload();
      this.startMetrics();
      this.installSignals();
      this.logSummary();
      this.opts.onReady?.();
      settleSoon();
    } catch (e) {
      await this.stop("start-up failed");
      throw e;
    }
  }

  private recorder?: FlightRecorder;

  /** The flight recorder is evidence, not a requirement: without it aod runs on. */
  private startRecorder(): void {
    const r = this.opts.recorder;
    if (!r) return;
    try {
      r.start();
      this.recorder = r;
      log.info("flight recorder ready", {
        instance: r.dir,
        memory_kb: r.memoryKb,
        freeze: r.hasSnapshot ? "snapshot" : "paused read",
      });
    } catch (e) {
      log.warn("flight recorder unavailable; bundles will have no kernel_trace.log", { error: errorMessage(e) });
      r.stop();
    }
  }

  private onBatch(b: EventBatch): void {
    noteEvents();
    try {
      this.pipeline.observe(b);
      this.opts.metrics?.observe(b);
    } catch (e) {
      // A bad batch must not stop the reader: count it, say it, go on.
      this.batchErrors++;
      log.error("detection failed on a batch; continuing", { error: errorMessage(e), errors: this.batchErrors });
      if (this.batchErrors === 1 || this.batchErrors % 100 === 0) auditRestart("detector");
    }
  }

  /** Runs fn; on failure retries with backoff (1 s doubling to 60 s). */
  private async supervise(name: string, fn: () => Promise<void>): Promise<void> {
    for (let delay = 1000; ; delay = Math.min(delay * 2, 60_000)) {
      try {
        return await fn();
      } catch (e) {
        if (this.stopping) throw e;
        const n = (this.restarts.get(name) ?? 0) + 1;
        this.restarts.set(name, n);
        log.error(`${name} failed; restarting`, { error: errorMessage(e), restarts: n, retry_in_ms: delay });
        auditRestart(name);
        if (n >= 5 && name === "event source") throw e; // persistent: let the service manager decide
        await Bun.sleep(delay);
      }
    }
  }

  private guard(name: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.restarts.set(name, (this.restarts.get(name) ?? 0) + 1);
      log.error(`${name} failed; it runs again at its next interval`, { error: errorMessage(e) });
      auditRestart(name);
    }
  }

  private readonly onSignal = (sig: NodeJS.Signals) => void this.stop(`received ${sig}`);
  private readonly onSnapshot = () => this.snapshot("SIGUSR1");

  private startRetentionTimer(): void {
    clearInterval(this.retentionTimer);
    this.retentionTimer = setInterval(() => {
      this.guard("retention", () => this.retention());
      this.pipeline.reportRepeats(); // cooldowns that ended without further events
    }, this.opts.config.cleanup.cleanup_interval_sec * 1000);
  }

  private readonly onReload = () => this.guard("config reload", () => this.reload());

  /**
   * SIGHUP: the config read again. Invalid: its problems are logged and the
   * running config stays. Valid: rules and settings change in place (windows
   * of unchanged rules, every cooldown, the collection queue, counters and
   * histograms stay; kernel maps are refilled without detaching); what only a
   * restart can change is named in the log.
   */
  reload(): void {
    if (!this.opts.reload) {
      log.warn("SIGHUP: this daemon has no config file to read again");
      return;
    }
    let next: Config;
    try {
      next = this.opts.reload();
    } catch (e) {
      log.error("config reload failed: the running config stays", { error: errorMessage(e) });
      return;
    }
    const prev = this.opts.config;
    for (const w of next.warnings) log.warn(`config: ${w}`);
    const restartFor: string[] = RESTART_KEYS.filter((k) => JSON.stringify(prev[k]) !== JSON.stringify(next[k]));
    // The source follows the protocols the rules used at start; another protocol needs a restart.
    const protocols = (c: Config) => protocolsOf(toolFilters(c)).map((p) => p.name);
    if (protocols(prev).join() !== protocols(next).join())
      restartFor.push(`protocols (${protocols(prev).join("+")} → ${protocols(next).join("+")})`);
    this.opts.config = next;
    const changes = this.pipeline.reconfigure(next);
    this.opts.source.reconfigure?.(toolFilters(next));
    if (prev.cleanup.cleanup_interval_sec !== next.cleanup.cleanup_interval_sec) this.startRetentionTimer();
    log.info("config reloaded", {
      config: next.source,
      ...changes,
      ...(restartFor.length && { needs_restart: restartFor }),
    });
    if (restartFor.length)
      log.warn(`config reload: ${restartFor.join(", ")} changed; they take effect when aod restarts`);
  }

  private installSignals(): void {
    process.on("SIGINT", this.onSignal);
    process.on("SIGTERM", this.onSignal);
    process.on("SIGUSR1", this.onSnapshot);
    process.on("SIGHUP", this.onReload);
  }

  /** Collects every watcher action into a bundle of type snapshot. */
  snapshot(why: string): void {
    const ns = BigInt(Date.now()) * 1_000_000n;
    const a: Anomaly = {
      name: "snapshot",
      type: "snapshot",
      detectedAtNs: ns,
      reason: `requested (${why})`,
      windowSec: this.opts.config.watch_interval_sec,
      count: 0,
      triggers: [],
      repeats: { detections: 0, events: 0 },
    };
    log.info("snapshot requested", { why });
    this.pipeline.collector.submit(a);
  }

  stats() {
    return {
      events: this.pipeline?.events ?? 0,
      anomalies: this.pipeline?.anomalies ?? 0,
      bundles: this.pipeline?.collector.completed ?? 0,
      dropped: this.pipeline?.collector.dropped ?? 0,
      lost: this.opts.source.lost(),
    };
  }

  stop(why: string): Promise<void> {
    this.stopping ??= (async () => {
      log.info("stopping", { why });
      process.off("SIGINT", this.onSignal);
      process.off("SIGTERM", this.onSignal);
      process.off("SIGUSR1", this.onSnapshot);
      process.off("SIGHUP", this.onReload);
      clearInterval(this.retentionTimer);
      cancelSettle();
      await this.stopMetrics(); // scrapes read the source's maps: before they go
      const lost = this.opts.source.lost(); // read before the maps go away with the source
      try {
        await this.opts.source.close(); // stop intake first
      } catch (e) {
        log.error("closing the event source failed", { error: errorMessage(e) });
      }
      await this.pipeline?.collector.stop(this.opts.config.collection.stop_grace_sec * 1000);
      this.pipeline?.reportRepeats(true);
      this.recorder?.stop();
      await this.stopUpload(); // after the collector: its last bundles are in the state for the next start
      this.lock?.release();
      log.info("stopped", { ...this.stats(), lost });
      this.done();
    })();
    return this.stopping;
  }

  // ---------------------------------------------------------------- metrics
  // The Prometheus exposition (src/metrics), when `metrics:` is configured:
  // counters fed by the pipeline's and collector's hooks and by onBatch;
  // serving starts once the source runs and stops before it closes.

  private metricsHooks(): {
    collector: Pick<CollectorHooks, "onBundle">;
    pipeline: Pick<PipelineOptions, "onAnomaly">;
  } {
    const m = this.opts.metrics;
    const u = this.opts.uploader;
    return {
      collector:
        m || u
          ? {
              onBundle: (_a, path, bytes) => {
                m?.bundle(bytes);
                u?.enqueue(path);
              },
            }
          : {},
      pipeline: m ? { onAnomaly: (a) => m.anomaly(a) } : {},
    };
  }

  private startMetrics(): void {
    const u = this.opts.uploader;
    this.opts.metrics?.start({
      source: this.opts.source,
      collector: this.pipeline.collector,
      ...(u && { upload: () => u.metrics() }),
    });
  }

  // ---------------------------------------------------------------- upload
  // The upload lane (src/upload): its own timers and network; the collector
  // hands it each bundle, retention asks it what is not uploaded yet.

  private startUpload(): void {
    const u = this.opts.uploader;
    if (!u) return;
    try {
      u.start();
    } catch (e) {
      log.error("upload: could not start; bundles stay local", { error: errorMessage(e) });
      this.opts.uploader = undefined;
    }
  }

  private async stopUpload(): Promise<void> {
    try {
      await this.opts.uploader?.stop();
    } catch (e) {
      log.error("stopping upload failed", { error: errorMessage(e) });
    }
  }

  private retention(): void {
    const u = this.opts.uploader;
    const r = runRetention(this.batchesDir, this.opts.config.cleanup, Date.now(), u && ((f) => u.isPending(f)));
    for (const d of r.deleted) if (d.pending) u?.abandon(d.file, `deleted by retention (${d.why})`);
  }

  private async stopMetrics(): Promise<void> {
    try {
      await this.opts.metrics?.stop();
    } catch (e) {
      log.error("stopping metrics failed", { error: errorMessage(e) });
    }
  }

  // ----------------------------------------------------------------

  private logSummary(): void {
    const { config, source } = this.opts;
    const rules = config.rules.map((r) => ({ name: r.name, type: r.type, ...anomalyTypeOf(r).logFields(r) }));
    log.info("aod running", {
      version: VERSION,
      host: hostname(),
      config: config.source,
      source: source.status(),
      window_sec: config.watch_interval_sec,
      anomalies: rules,
      snapshot_actions: config.watcher.actions,
      output: this.batchesDir,
      limits: {
        max_concurrent: config.collection.max_concurrent,
        queue_size: config.collection.queue_size,
        max_total_log_size_mb: config.cleanup.max_total_log_size_mb,
        max_log_age_days: config.cleanup.max_log_age_days,
      },
    });
  }
}
