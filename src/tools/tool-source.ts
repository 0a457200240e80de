// The tools of one protocol as an EventSource, loaded from their specs
// (./registry.ts): follows the protocol's kernel module (attaches within
// `pollMs` of it loading, detaches when it goes away, and waits again), probes
// the kernel once per attach, loads the ring owner first and every other tool
// onto its maps, and owns every link and the ring buffer.
import type { EventBatch } from "../format/event";
import { log } from "../log";
import type { BpfObject } from "../native/libbpf";
import { errorMessage } from "../util/errors";
import { type CommandHistogram, readHistograms, readPercpuU64, type ShareHistogram } from "./hist";
import { PROTOCOLS, TOOLS } from "./registry";
import { RingReader } from "./ring-reader";
import { currentClockOffset, type EventSource } from "./source";
import type { LoadedTool, Protocol, ToolSourceOptions, ToolSpec } from "./spec";

const firstLine = (s: string) => s.split("\n")[0]!;

interface Attached {
  tools: Map<string, LoadedTool & { spec: ToolSpec }>;
  reader: RingReader;
  /** Per tool: its line in logs and status (loaded, or why not). */
  lines: { log: string; status: string }[];
  /** protocol.instance() when attached. */
  instance: string;
  /** The kernel probe the tools were loaded with. */
  plan: unknown;
}

export class ToolSource implements EventSource {
  /** While the module is loaded but attaching failed, how often to try again. */
  static RETRY_MS = 30_000;
  readonly name: string;
  readonly clock = currentClockOffset();
  readonly protocol: Protocol;
  private readonly specs: ToolSpec[];
  private att?: Attached;
  private timer?: ReturnType<typeof setInterval>;
  private onBatch?: (b: EventBatch) => void;
  private pending: Promise<void> = Promise.resolve();
  private failedWhy?: string; // attach failed while the module stayed loaded
  private failedAt = 0;
  private lostBase: Record<string, bigint>;
  private closed = false;
  /** Why each variant tried at the last attach failed (for logs and `aod check`). */
  attempts: { tool: string; variant: string; error: string }[] = [];

  /**
   * `filters`: per tool, the filter merged from the config's rules (see
   * toolFilters() in src/detect/types); opts.filters replaces entries.
   */
  constructor(
    protocol: string,
    filters: Readonly<Record<string, unknown>>,
    private readonly opts: ToolSourceOptions = {},
  ) {
    const p = PROTOCOLS.find((x) => x.name === protocol);
    if (!p) throw new Error(`unknown protocol ${protocol}`);
    this.protocol = p;
    this.name = p.name;
    // The ring owner first: the others load onto its maps.
    this.specs = TOOLS.filter((t) => t.protocol === protocol).sort((a, b) => Number(!!b.ring) - Number(!!a.ring));
    this.lostBase = Object.fromEntries(this.specs.map((t) => [t.name, 0n]));
    this.filters = this.toolFilters(filters);
  }
  private filters: Record<string, unknown>;

  /** Per tool: the config's merged filter, replaced by opts.filters; the empty one for tools not requested. */
  private toolFilters(filters: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return Object.fromEntries(
      this.specs.map((t) => {
        const f = this.opts.filters?.[t.name] ?? filters[t.name];
        return [t.name, this.requested(t) && f !== undefined ? f : t.mergeFilters([])];
      }),
    );
  }
  private requested(t: ToolSpec): boolean {
    return !this.opts.tools || this.opts.tools.includes(t.name);
  }

  /**
   * Config reload: new filters. Attached tools get their maps refilled in
   * place (nothing detaches, histograms and counters stay); when a tool must
   * now load or unload, or cannot refill, the protocol's tools attach again.
   */
  reconfigure(filters: Readonly<Record<string, unknown>>): void {
    const prev = this.filters;
    this.filters = this.toolFilters(filters);
    const a = this.att;
    if (!a) return; // used at the next attach
    let reattach = false;
    for (const spec of this.specs) {
      const f = this.filters[spec.name];
      if (JSON.stringify(f) === JSON.stringify(prev[spec.name])) continue;
      const loaded = a.tools.get(spec.name);
      const skip = !spec.ring && !this.requested(spec) ? "not requested" : spec.skip?.(f, a.plan);
      if (!loaded !== (skip !== undefined) || (loaded && !spec.refill)) reattach = true;
      else if (loaded) spec.refill!(loaded.obj, f, this.opts);
    }
    if (!reattach) return;
    log.info(`config reload: attaching the ${this.protocol.name.toUpperCase()} tools again (a tool loads or unloads)`);
    this.pending = this.pending.then(() => this.detach()).then(() => this.poll());
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
  /** Why the module is loaded but not traced, if so. */
  get failure(): string | undefined {
    return this.att ? undefined : this.failedWhy;
  }
  /** The variant the ring owner attached with. */
  get variant(): string | undefined {
    return this.owner()?.variant;
  }
  /** A loaded tool's object (for tool-specific maps such as counters). */
  object(tool: string): BpfObject | undefined {
    return this.att?.tools.get(tool)?.obj;
  }
  /** The optional-programs line of the ring owner (e.g. its release hook). */
  get detail(): string {
    return this.owner()?.detail ?? "";
  }
  private owner() {
    return this.att && [...this.att.tools.values()].find((t) => t.spec.ring);
  }

  private poll(): void {
    if (this.closed) return;
    const p = this.protocol;
    const loaded = p.loaded();
    if (loaded && !this.att && (!this.failedWhy || performance.now() - this.failedAt >= ToolSource.RETRY_MS)) {
      try {
        this.attach();
        this.failedWhy = undefined;
      } catch (e) {
        const msg = errorMessage(e);
        // Logged once; retried quietly every RETRY_MS (a permanent cause stays permanent).
        if (this.failedWhy !== msg) log.error(`${p.module} is loaded but cannot be traced: ${msg}`);
        else log.debug(`${p.module} still cannot be traced: ${msg}`);
        this.failedWhy = msg;
        this.failedAt = performance.now();
      }
    } else if (loaded && this.att && p.instance() !== this.att.instance) {
      // Unloaded and loaded again between two polls: the old hooks are gone.
      log.info(`${p.module} module was reloaded: attaching the ${p.name.toUpperCase()} tools again`);
      this.pending = this.pending.then(() => this.detach());
    } else if (!loaded) {
      this.failedWhy = undefined;
      if (this.att) {
        log.info(
          `${p.module} module unloaded: detached the ${p.name.toUpperCase()} tools; waiting for it to load again`,
        );
        this.pending = this.pending.then(() => this.detach());
      }
    }
  }

  private attach(): void {
    const plan = this.protocol.plan(this.opts.hooks);
    this.attempts = [];
    const tools = new Map<string, LoadedTool & { spec: ToolSpec }>();
    const lines: { log: string; status: string }[] = [];
    const closeAll = () => {
      for (const t of tools.values()) t.obj.close();
    };
    try {
      for (const spec of this.specs) {
        const filter = this.filters[spec.name];
        const why = !spec.ring && !this.requested(spec) ? "not requested" : spec.skip?.(filter, plan);
        if (why !== undefined) {
          const text = spec.skipText?.(why) ?? `${spec.name} not loaded: ${why}`;
          lines.push({ log: text, status: text });
          continue;
        }
        const base = spec.ring ? undefined : [...tools.values()].find((t) => t.spec.ring)?.obj;
        try {
          const t = this.loadTool(spec, plan, filter, base);
          tools.set(spec.name, { ...t, spec });
          lines.push(this.describe(spec, t, plan));
        } catch (e) {
          if (spec.ring) throw e; // nothing works without the ring
          const text = spec.skipText?.(errorMessage(e)) ?? `${spec.name} not loaded: ${errorMessage(e)}`;
          log.warn(`${spec.name}: ${errorMessage(e)}`);
          lines.push({ log: text, status: text });
        }
      }
      const owner = [...tools.values()].find((t) => t.spec.ring);
      if (!owner) throw new Error(`no ${this.protocol.name} tool owns a ring buffer`);
      const reader = new RingReader(owner.obj.map(owner.spec.ring!), (b) => this.onBatch?.(b));
      reader.start();
      this.att = { tools, reader, lines, instance: this.protocol.instance(), plan };
    } catch (e) {
      closeAll();
      throw e;
    }
    log.info(`${this.protocol.module}: attached ${lines.map((l) => l.log).join("; ")}`);
    this.opts.onAttached?.();
  }

  /** Tries the variants in order: each that probes ok, with its optional programs, then without. */
  private loadTool(spec: ToolSpec, plan: unknown, filter: unknown, base: BpfObject | undefined): LoadedTool {
    const ctx = { plan, filter, opts: this.opts, base };
    const order = spec.order?.(plan) ?? spec.variants.map((v) => v.name);
    const fail = (variant: string, error: string) => this.attempts.push({ tool: spec.name, variant, error });
    for (const name of order) {
      const v = spec.variants.find((x) => x.name === name);
      if (!v) continue;
      const check = v.probe(plan);
      if (!check.ok) {
        fail(name, check.why);
        continue;
      }
      const optional = v.optional?.(plan);
      try {
        const t = spec.load(ctx, name, !!optional);
        return { ...t, detail: t.detail || spec.noOptional?.(name, plan) };
      } catch (e) {
        let err = errorMessage(e);
        log.debug(`${spec.name}: ${name}${optional ? ` with ${optional}` : ""} failed: ${err}`);
        if (optional) {
          // The optional programs are optional: try the variant once more without them.
          try {
            const t = spec.load(ctx, name, false);
            return { ...t, detail: spec.noOptional?.(name, plan, firstLine(err)) };
          } catch (e2) {
            err = errorMessage(e2);
          }
        }
        fail(name, err);
      }
    }
    const mine = this.attempts.filter((a) => a.tool === spec.name);
    throw new Error(`no usable hooks (${mine.map((a) => `${a.variant}: ${firstLine(a.error)}`).join("; ")})`);
  }

  private describe(spec: ToolSpec, t: LoadedTool, plan: unknown): { log: string; status: string } {
    const detail = t.detail ? `, ${t.detail}` : "";
    const skipped = this.attempts.filter((a) => a.tool === spec.name);
    const skippedText = skipped.length
      ? ` (skipped ${skipped.map((a) => `${a.variant}: ${firstLine(a.error)}`).join("; ")})`
      : "";
    if (t.via) return { log: `${spec.name} via ${t.via}${detail}`, status: `${spec.name} via ${t.via}${detail}` };
    const why = spec.variants.find((v) => v.name === t.variant)?.probe(plan).why;
    return {
      log: `${spec.name} via ${t.variant}${detail}${skippedText}`,
      status: `${spec.name} via ${t.variant} (${why})${t.detail ? `; ${t.detail}` : ""}`,
    };
  }

  private async detach(): Promise<void> {
    const a = this.att;
    if (!a) return;
    this.lostBase = this.lost(); // counts of this attachment survive it
    this.att = undefined;
    await a.reader.close();
    for (const t of [...a.tools.values()].reverse()) t.obj.close();
  }

  lost(): Record<string, bigint> {
    const out = { ...this.lostBase };
    const owner = this.owner();
    if (!owner) return out;
    const map = owner.obj.map("lost");
    for (const t of this.specs) out[t.name] = (this.lostBase[t.name] ?? 0n) + readPercpuU64(map, t.lostIndex);
    return out;
  }

  /** Per-command latency histograms of every completed command since attach. */
  histograms(): CommandHistogram[] {
    if (!this.att) return [];
    for (const t of this.att.tools.values())
      if (t.spec.histMap) return readHistograms(t.obj.map(t.spec.histMap), t.spec.kind.commands);
    return [];
  }

  /** Per-share latency histograms since attach, when loaded with opts.shareHistograms. */
  shareHistograms(): ShareHistogram[] {
    if (!this.att || !this.opts.shareHistograms) return [];
    return [...this.att.tools.values()].flatMap((t) => t.spec.shareHistograms?.(t.obj) ?? []);
  }

  /** Ring records read, and records of the wrong size (should stay 0). */
  readerStats(): { records: number; malformed: number } {
    return { records: this.att?.reader.records ?? 0, malformed: this.att?.reader.malformed ?? 0 };
  }

  status(): string {
    if (this.att) return this.att.lines.map((l) => l.status).join("; ");
    if (this.closed) return "closed";
    if (this.failedWhy) return `${this.protocol.module} loaded but not traced: ${this.failedWhy}`;
    return this.protocol.waiting;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.pending;
    await this.detach();
  }
}
