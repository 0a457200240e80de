// An event tool is one object: its BPF object, how to load and attach it (in
// variants, best first, each with a probe), the filter its maps take from the
// rules, and the kind of events it emits. A protocol groups the tools that
// follow one kernel module. The generic loader is ./tool-source.ts; the tables
// are ./registry.ts; docs/extending.md walks through adding a tool.
import type { DecodedEvent, EventLine } from "../format/event";
import type { NameTable } from "../format/name-table";
import type { BpfObject } from "../native/libbpf";

/** The columns a replayed event line gives the detectors. */
export interface EventColumns {
  latencyNs: number;
  command: number;
  rc: number;
  /** NT status, where the kind has one. */
  status?: number;
}

/** How records of one kind (aod_event.tool) become event lines, and back. */
export interface EventKind {
  /** aod_event.tool (enum aod_tool in bpf/aod_event.h). */
  id: number;
  /** Its name in event lines and anomaly.json. */
  name: string;
  /** Other names accepted in configs and recordings. */
  aliases: readonly string[];
  /** The names of aod_event.command, and the histogram key. */
  commands: NameTable;
  /** A recorded line without "tool" is of this kind when it has this field. */
  marker: string;
  /** A decoded record as an event line. */
  toLine(e: DecodedEvent, share?: string): EventLine;
  /**
   * Replay: the columns of a recorded line of this kind. Checks the kind's own
   * fields and throws naming the first that is wrong.
   */
  fromLine(l: EventLine): EventColumns;
  /** `aod trace`'s LAT(ms)/ERROR column. */
  traceColumn(l: EventLine): string;
  /**
   * `aod trace`'s summary counts events of this kind under this key (e.g.
   * "SMB2_CREATE ENOENT STATUS_…"); without it they are latencies, summarized
   * per command.
   */
  summaryKey?(l: EventLine): string;
}

/** A recorded line's command as an id of `table`, or an error naming the field. */
export function lineCommand(table: NameTable, l: EventLine, field = "command"): number {
  const name = l[field];
  const id = typeof name === "string" ? table.id(name) : undefined;
  if (id === undefined)
    throw new Error(`"${field}" must be an ${table.what} name such as ${table.example}, found ${JSON.stringify(name)}`);
  return id;
}

/** The options a source is started with (from `aod run`, `aod trace`, tests). */
export interface ToolSourceOptions {
  /** Tools to report (canonical names; default every tool of the protocol). A tool another needs still loads. */
  tools?: readonly string[];
  /** Filters per tool that replace what the config's rules give (`aod trace --min-ms`). */
  filters?: Readonly<Record<string, unknown>>;
  /** Only these command ids (`aod trace --command`). */
  commands?: readonly number[];
  /** Only this process (tgid). */
  pid?: number;
  /** Called each time the tools attached (the protocol's module loaded). */
  onAttached?: () => void;
  /** Ring buffer size in bytes (power of 2, ≥ page size). Default 4 MiB. */
  ringBytes?: number;
  /** How often to look for the module loading/unloading (ms). Default 2000. */
  pollMs?: number;
  /** Hook variants to try, best first (default: every variant of each tool, in its order). */
  hooks?: readonly string[];
  /** Keep per-share latency histograms in the kernel too (metrics; one more map update per command). */
  shareHistograms?: boolean;
}

/** What a tool's load() gets. */
export interface LoadContext<F, P> {
  plan: P;
  filter: F;
  opts: ToolSourceOptions;
  /** The loaded object whose maps this tool shares (spec.sharesMapsOf). */
  base?: BpfObject;
}

/** One way to attach a tool (fentry, kprobe, tracepoint, ...). */
export interface AttachVariant<P> {
  name: string;
  /** Whether this kernel offers it, and why (or why not). Cheap: reads the plan. */
  probe(plan: P): { ok: boolean; why: string };
  /**
   * Optional programs worth having with this variant (e.g. a release hook):
   * a label for logs, or undefined when there are none on this kernel.
   * load() is tried with them first, then once more without.
   */
  optional?(plan: P): string | undefined;
}

/** A loaded tool: its object, and what logs and `aod check` say of it. */
export interface LoadedTool {
  obj: BpfObject;
  variant: string;
  /** What logs say it is attached to instead of the variant ("cifs:smb3_cmd_err + …"). */
  via?: string;
  /** The optional programs' part, e.g. "release hook __release_mid". */
  detail?: string;
}

export interface ToolSpec<F = unknown, P = unknown> {
  /** Canonical name (configs, event lines); aliases come from its kind. */
  name: string;
  /** The protocol (./registry.ts PROTOCOLS) whose module it follows. */
  protocol: string;
  /** The embedded object file, and the name libbpf gives it. */
  object: string;
  objectName: string;
  /** The events it emits. */
  kind: EventKind;
  /** Index in the `lost` map (enum aod_tool). */
  lostIndex: number;
  /** Owns the ring buffer (this map) and loads first; every other tool of the protocol shares its maps. */
  ring?: string;
  /** Maps taken over from the ring owner, so all tools write one ring and one lost counter. */
  sharedMaps?: readonly string[];
  /** Map of per-command log2 latency histograms, when it keeps them. */
  histMap?: string;
  /** Its per-share histograms (when loaded with opts.shareHistograms), labelled. */
  shareHistograms?(obj: BpfObject): import("./hist").ShareHistogram[];
  /** Merges the filters of every rule it feeds (and the empty list: report nothing). */
  mergeFilters(filters: readonly unknown[]): F;
  /** Why it is not loaded with this filter and plan, or undefined to load it. */
  skip?(filter: F, plan: P): string | undefined;
  /** The text in logs when skip() says why not. */
  skipText?(why: string): string;
  /** Ways to attach, best first; the first that probes ok and loads wins. */
  variants: readonly AttachVariant<P>[];
  /** The variants' names in the order to try them on this kernel (default: as listed). */
  order?(plan: P): readonly string[];
  /** What logs say when a variant runs without its optional programs (error: why they failed to load). */
  noOptional?(variant: string, plan: P, error?: string): string;
  /** Config reload: puts a new filter into the loaded object's maps (without it, a new filter re-attaches). */
  refill?(obj: BpfObject, filter: F, opts: ToolSourceOptions): void;
  /** Opens, configures (rodata, maps from the filter), loads and attaches the object for one variant. */
  load(ctx: LoadContext<F, P>, variant: string, withOptional: boolean): LoadedTool;
  /**
   * Its row in `aod check` (under the protocol's hooks): what it would attach
   * on this kernel. `ok: false` is a warning while the module is loaded.
   */
  check?: { name: string; run(plan: P): { ok: boolean; detail: string } };
}

/** A protocol's tools follow one kernel module and share one probe of the kernel. */
export interface Protocol<P = unknown> {
  name: string;
  /** The kernel module whose loading and unloading the tools follow. */
  module: string;
  loaded(): boolean;
  /** Identifies one load of the module ("" when unknown). */
  instance(): string;
  /** Probes the kernel for what the tools can attach to (once per attach). */
  plan(prefer?: readonly string[]): P;
  /** The tracefs events ("system/event") the flight recorder keeps for this protocol, when they exist. */
  recorderEvents: readonly string[];
  /** Why nothing can attach, for status lines (e.g. "waiting for cifs (module not loaded)"). */
  waiting: string;
}

/** Declares a tool with its own filter and plan types (checked here, erased in the table). */
export function defineTool<F, P>(spec: ToolSpec<F, P>): ToolSpec<F, P> {
  return spec;
}
