// The upload lane: bundles leave the host in the background, oldest first,
// `concurrency` at a time, under one bandwidth cap. Nothing lost: the state
// database says what is sent; a start (and every rescan_sec) enqueues what
// batches/ holds and the state does not mark uploaded. Nothing twice: puts are
// idempotent (see the targets). Failures back off exponentially with full
// jitter; 401/403/404 and a missing identity open a circuit breaker (one
// warning when it opens, one line when it closes, a probe every
// breaker_probe_sec). Uploads only ever await the network: detection and
// collection never wait for them.
import { existsSync, unlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { MANIFEST, type Manifest, parseManifest } from "../bundle/manifest";
import { BUNDLE_RE } from "../bundle/names";
import { ensurePrivateDir } from "../bundle/output-dir";
import { listBundles, readMembers } from "../bundle/read";
import { redactBundleFile } from "../bundle/redact-file";
import type { UploadConfig } from "../config/upload";
import { log } from "../log";
import { errorMessage } from "../util/errors";
import { VERSION } from "../version";
import { bytesBody, fileBody, Pacer } from "./body";
import { hostId, objectKey } from "./host-id";
import { UploadState } from "./state";
import { type UploadBody, UploadError, type UploadTarget } from "./target";

export type BreakerState = "closed" | "open" | "half_open";

/** First retry waits up to this long; each attempt doubles it up to retry_max_sec. */
const RETRY_BASE_MS = 2000;

export interface UploaderOptions {
  config: UploadConfig;
  stateDir: string;
  batchesDir: string;
  target: UploadTarget;
  /** The host's id in object keys; default: ./host-id.ts's, from the state dir's salt. */
  hostId?: string;
  /** For tests: time and jitter. */
  now?: () => number;
  random?: () => number;
}

export interface UploadOutcome {
  file: string;
  key?: string;
  result: "uploaded" | "already" | "failed" | "retry" | "breaker" | "missing";
  bytes?: number;
  error?: string;
}

/** What the sidecar <bundle>.manifest.json holds: enough to check the archive without opening it. */
export interface Sidecar {
  schema_version: 1;
  bundle: string;
  key: string;
  size: number;
  sha256: string;
  host_id: string;
  detected_at: string;
  redacted: boolean;
  /** The bundle's own manifest.json (members, sizes, sha256); null for bundles older than manifests. */
  manifest: Manifest | null;
}

export interface UploadMetrics {
  target: string;
  uploaded: number;
  uploaded_bytes: number;
  failed: number;
  retries: number;
  abandoned: number;
  queued: number;
  queued_bytes: number;
  breaker: BreakerState;
}

export class Uploader {
  readonly targetId: string;
  readonly hostId: string;
  readonly state: UploadState;
  readonly pacer: Pacer;
  private readonly inFlight = new Map<string, Promise<UploadOutcome>>();
  private breaker: BreakerState = "closed";
  private breakerUntil = 0;
  private wake?: ReturnType<typeof setTimeout>;
  private rescanTimer?: ReturnType<typeof setInterval>;
  private running = false;
  private readonly aborter = new AbortController();
  private readonly now: () => number;
  private readonly random: () => number;
  /** Since this process started (the state database has the totals). */
  readonly counters = { uploaded: 0, uploaded_bytes: 0, failed: 0, retries: 0, abandoned: 0 };

  constructor(private readonly opts: UploaderOptions) {
    this.targetId = `${opts.target.kind}:${opts.target.where}`;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.pacer = Pacer.fromMbps(opts.config.max_mbps);
    ensurePrivateDir(opts.stateDir, "state dir", "state_dir");
    this.hostId = opts.hostId ?? hostId(opts.stateDir);
    this.state = UploadState.open(opts.stateDir, { create: true });
    const saved = this.state.meta(this.targetId, "breaker") as BreakerState | undefined;
    if (saved === "open" || saved === "half_open") {
      // A restart probes at once: the fix may be why aod was restarted.
      this.breaker = "open";
      this.breakerUntil = 0;
    }
  }

  get breakerState(): BreakerState {
    return this.breaker;
  }

  /** The daemon's lane: requeue what a crash interrupted, rescan, then upload as bundles come. */
  start(): void {
    this.running = true;
    const n = this.state.requeueInterrupted(this.targetId);
    if (n) log.info("upload: bundles interrupted by a stop or crash go again", { count: n });
    this.rescan();
    this.rescanTimer = setInterval(() => {
      try {
        this.rescan();
      } catch (e) {
        log.error("upload: rescan failed", { error: errorMessage(e) });
      }
    }, this.opts.config.rescan_sec * 1000);
    log.info("upload on", {
      target: this.targetId,
      queued: this.queued(),
      breaker: this.breaker,
      ...(this.opts.config.max_mbps && { max_mbps: this.opts.config.max_mbps }),
    });
    this.pump();
  }

  /** Stops uploading; uploads in flight are abandoned mid-way and go again at the next start. */
  async stop(graceMs = 2000): Promise<void> {
    this.running = false;
    clearTimeout(this.wake);
    clearInterval(this.rescanTimer);
    this.aborter.abort();
    await Promise.race([Promise.allSettled([...this.inFlight.values()]), Bun.sleep(graceMs)]);
    this.state.close();
  }

  /** For /metrics: counts since start, the queue now, the breaker. */
  metrics(): UploadMetrics {
    let queuedBytes = 0;
    const queued = this.state.rows(this.targetId, ["queued", "uploading"], 100_000);
    for (const r of queued) queuedBytes += r.size ?? Bun.file(join(this.opts.batchesDir, r.name)).size;
    return {
      target: this.opts.target.kind,
      ...this.counters,
      queued: queued.length,
      queued_bytes: queuedBytes,
      breaker: this.breaker,
    };
  }

  queued(): number {
    return this.state.counts(this.targetId).find((c) => c.state === "queued")?.n ?? 0;
  }

  /** Enqueues every bundle in batches/ the state has no row for; queued rows whose file is gone are abandoned. */
  rescan(): number {
    let added = 0;
    const present = new Set<string>();
    for (const b of listBundles(this.opts.batchesDir)) {
      present.add(b.file);
      if (this.state.enqueue(this.targetId, b.file, this.now())) added++;
    }
    for (const r of this.state.rows(this.targetId, ["queued"], 100_000))
      if (!present.has(r.name) && !this.inFlight.has(r.name)) this.abandon(r.name, "deleted before it was uploaded");
    if (added) this.pump();
    return added;
  }

  /** A new bundle (the collector wrote it). */
  enqueue(path: string): void {
    if (this.state.enqueue(this.targetId, basename(path), this.now())) this.pump();
  }

  /** Retention asks before deleting. */
  isPending(file: string): boolean {
    return this.state.isPending(this.targetId, file);
  }

  /** Retention deleted a bundle that was not uploaded. */
  abandon(file: string, why: string): void {
    if (this.state.abandoned(this.targetId, file, why, this.now())) {
      this.counters.abandoned++;
      log.warn("upload: bundle abandoned", { file, why });
    }
  }

  /** Starts as many due uploads as the lane allows; sleeps until the next one is due. */
  private pump(): void {
    if (!this.running) return;
    clearTimeout(this.wake);
    const now = this.now();
    if (this.breaker === "open") {
      if (now < this.breakerUntil) {
        this.sleepUntil(this.breakerUntil);
        return;
      }
      this.setBreaker("half_open");
    }
    const slots =
      this.breaker === "half_open"
        ? this.inFlight.size === 0
          ? 1
          : 0
        : this.opts.config.concurrency - this.inFlight.size;
    if (slots > 0) {
      const rows = this.state
        .due(this.targetId, now, slots + this.inFlight.size)
        .filter((r) => !this.inFlight.has(r.name))
        .slice(0, slots);
      for (const r of rows) this.launch(join(this.opts.batchesDir, r.name));
    }
    if (this.inFlight.size === 0) {
      const next = this.state.nextDue(this.targetId);
      if (next !== undefined) this.sleepUntil(next);
    }
  }

  private sleepUntil(t: number): void {
    clearTimeout(this.wake);
    this.wake = setTimeout(() => this.pump(), Math.max(10, Math.min(t - this.now(), 2 ** 31 - 1)));
  }

  private launch(path: string): Promise<UploadOutcome> {
    const name = basename(path);
    const p = this.upload(path).finally(() => {
      this.inFlight.delete(name);
      this.pump();
    });
    this.inFlight.set(name, p);
    return p;
  }

  /**
   * `aod upload now`: uploads these bundle files (or every queued one) now,
   * whatever their retry time; a bundle already uploaded is reported, not sent.
   */
  async uploadNow(paths?: string[], progress?: (o: UploadOutcome) => void): Promise<UploadOutcome[]> {
    this.state.requeueInterrupted(this.targetId);
    if (!paths) {
      this.rescan();
      paths = this.state.rows(this.targetId, ["queued"], 100_000).map((r) => join(this.opts.batchesDir, r.name));
    }
    const out: UploadOutcome[] = [];
    const queue = [...paths];
    const worker = async () => {
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
        const name = basename(p);
        const row = this.state.get(this.targetId, name);
        let o: UploadOutcome;
        if (row?.state === "uploaded") o = { file: name, key: row.key ?? undefined, result: "already" };
        else {
          this.state.enqueue(this.targetId, name, this.now());
          this.state.postpone(this.targetId, name, 0);
          o = await this.upload(p, true);
        }
        out.push(o);
        progress?.(o);
      }
    };
    await Promise.all(Array.from({ length: this.opts.config.concurrency }, worker));
    return out;
  }

  /** One bundle and its sidecar. Never throws: the outcome says what happened, the state keeps it. */
  private async upload(path: string, now = false): Promise<UploadOutcome> {
    const file = basename(path);
    const t = this.targetId;
    const cfg = this.opts.config;
    if (!existsSync(path)) {
      this.abandon(file, "deleted before it was uploaded");
      return { file, result: "missing" };
    }
    let key: string | undefined;
    let copy: string | undefined;
    try {
      if (cfg.redact) copy = await this.redactedCopy(path);
      const source = copy ?? path;
      const body = await fileBody(source, this.pacer);
      key = objectKey(cfg.prefix, this.hostId, detectedMs(file, path), file);
      this.state.started(t, file, key, body.size, body.sha256Hex, this.now());
      const t0 = performance.now();
      const signal = this.aborter.signal;
      const outcome = await this.opts.target.put({
        key,
        body,
        contentType: "application/zstd",
        metadata: { sha256: body.sha256Hex, host_id: this.hostId, aod_version: VERSION },
        signal,
      });
      const sidecar = bytesBody(await this.sidecar(source, file, key, body, cfg.redact), this.pacer);
      await this.opts.target.put({
        key: `${key}.manifest.json`,
        body: sidecar,
        contentType: "application/json",
        metadata: { sha256: sidecar.sha256Hex, bundle_sha256: body.sha256Hex },
        signal,
      });
      this.state.uploaded(t, file, this.now());
      this.counters.uploaded++;
      this.counters.uploaded_bytes += body.size;
      if (this.breaker !== "closed") this.setBreaker("closed");
      log.info(outcome === "created" ? "uploaded bundle" : "bundle was already uploaded", {
        file,
        key,
        bytes: body.size,
        ms: Math.round(performance.now() - t0),
      });
      if (copy) unlinkSync(copy);
      if (cfg.delete_after_upload) unlinkSync(path);
      return { file, key, result: outcome === "created" ? "uploaded" : "already", bytes: body.size };
    } catch (e) {
      return this.failed(path, key, e, now);
    }
  }

  private failed(path: string, key: string | undefined, e: unknown, now: boolean): UploadOutcome {
    const t = this.targetId;
    const file = basename(path);
    if (this.aborter.signal.aborted) {
      // Stopping: the row stays "uploading" and goes again at the next start.
      return { file, key, result: "retry", error: "stopped" };
    }
    if (!existsSync(path)) {
      this.abandon(file, "deleted while it was being uploaded");
      return { file, key, result: "missing" };
    }
    const ue = e instanceof UploadError ? e : new UploadError(errorMessage(e), "client");
    const row = this.state.get(t, file);
    if (ue.breaks) {
      if (this.breaker !== "open") this.setBreaker("open", ue);
      this.breakerUntil = this.now() + this.opts.config.breaker_probe_sec * 1000;
      this.state.failed(t, file, ue.message, this.now(), this.breakerUntil);
      return { file, key, result: "breaker", error: ue.message };
    }
    if (ue.retryable) {
      const attempts = row?.attempts ?? 1;
      const cap = Math.min(this.opts.config.retry_max_sec * 1000, RETRY_BASE_MS * 2 ** Math.min(attempts - 1, 30));
      const next = this.now() + this.random() * cap; // full jitter
      this.state.failed(t, file, ue.message, this.now(), next);
      this.counters.retries++;
      if (attempts === 1 || now)
        log.warn("upload failed; retrying with backoff", { file, error: ue.message, attempts });
      else
        log.debug("upload failed again", {
          file,
          error: ue.message,
          attempts,
          retry_in_ms: Math.round(next - this.now()),
        });
      return { file, key, result: "retry", error: ue.message };
    }
    this.state.failed(t, file, ue.message, this.now());
    this.counters.failed++;
    log.warn("upload failed; not retried (`aod upload now FILE` tries again)", { file, key, error: ue.message });
    return { file, key, result: "failed", error: ue.message };
  }

  private setBreaker(s: BreakerState, why?: UploadError): void {
    const was = this.breaker;
    this.breaker = s;
    this.state.setMeta(this.targetId, "breaker", s);
    this.state.setMeta(this.targetId, "breaker_since", String(this.now()));
    if (s === "open" && was === "closed")
      log.warn("upload breaker open: the target refuses access; uploads wait (nothing is lost), probing periodically", {
        target: this.targetId,
        error: why?.message,
        probe_every_sec: this.opts.config.breaker_probe_sec,
        fix: "aod upload validate",
      });
    else if (s === "closed") log.info("upload breaker closed: uploads go again", { target: this.targetId });
    // Probes repeat every breaker_probe_sec while access stays refused: debug, not a warning each time.
    else log.debug(`upload breaker ${s}`, { target: this.targetId, error: why?.message });
  }

  /** The redacted copy (made once, kept until uploaded); its token map stays in the state dir. */
  private async redactedCopy(path: string): Promise<string> {
    const dir = join(this.opts.stateDir, "redacted");
    ensurePrivateDir(dir, "state dir", "state_dir");
    const out = join(dir, basename(path));
    if (!existsSync(out)) await redactBundleFile(path, out, `${out}.tokens.json`, true);
    return out;
  }

  private async sidecar(
    source: string,
    file: string,
    key: string,
    body: UploadBody,
    redacted: boolean,
  ): Promise<Uint8Array> {
    let manifest: Manifest | null = null;
    const m = (await readMembers(source)).get(MANIFEST);
    try {
      if (m) manifest = parseManifest(new TextDecoder().decode(m));
    } catch (e) {
      log.warn("upload: the bundle's manifest.json is unreadable; its sidecar has none", {
        file,
        error: errorMessage(e),
      });
    }
    const doc: Sidecar = {
      schema_version: 1,
      bundle: file,
      key,
      size: body.size,
      sha256: body.sha256Hex,
      host_id: this.hostId,
      detected_at: new Date(detectedMs(file, source)).toISOString(),
      redacted,
      manifest,
    };
    return new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`);
  }
}

/** The detection time a bundle's name carries (aod_quick_<ns>); else the file's mtime. */
function detectedMs(file: string, path: string): number {
  const m = BUNDLE_RE.exec(file);
  if (m) return Number(BigInt(m[1]!) / 1_000_000n);
  return Bun.file(path).lastModified;
}
