// Counters kept in user space as the daemon works: error and connection
// events as their batches arrive, anomalies, bundles. Which event kinds are
// errors or connection events comes from the tool table (a kind with a
// summary key is counted, not timed; its marker field says connection
// events); a latency record costs one look-up in a small table by its kind id.
import type { Anomaly } from "../detect/anomaly";
import { ClockOffset, type EventBatch } from "../format/event";
import { TOOLS } from "../tools/registry";
import type { EventKind } from "../tools/spec";
import { type LabelText, labelText } from "./exposition";
import { PROTOCOL_METRICS } from "./names";

/** Label sets one counter family keeps at most; further ones are counted under "other" values. */
export const MAX_COUNTER_SERIES = 1000;

/** The kind marker of connection events (their lines' conn_kind field). */
const CONNECTION_MARKER = "conn_kind";

interface CountedKind {
  kind: EventKind;
  family: string;
  connection: boolean;
  /** The request label's name (command, procedure). */
  request: string;
}

/** A counter family's series: label text → count, bounded. */
export class CounterSeries {
  readonly values = new Map<LabelText, number>();
  constructor(readonly overflow: LabelText) {}
  add(labels: LabelText, n = 1): void {
    const v = this.values.get(labels);
    if (v !== undefined) this.values.set(labels, v + n);
    else if (this.values.size < MAX_COUNTER_SERIES) this.values.set(labels, n);
    else this.values.set(this.overflow, (this.values.get(this.overflow) ?? 0) + n);
  }
}

const NO_CLOCK = new ClockOffset(0n); // labels need no time

export class EventCounters {
  /** By kind id: the kinds counted here (undefined: a latency kind, skipped). */
  private readonly byId: (CountedKind | undefined)[] = [];
  /** Family name → its series. */
  readonly families = new Map<string, CounterSeries>();
  /** Error label text by (kind, command, rc, status): an error storm computes each once. */
  private readonly errorLabels = new Map<string, LabelText>();
  /** anomaly + type label text → detections. */
  readonly anomalies = new Map<LabelText, number>();
  bundles = 0;
  bundleBytes = 0;

  constructor(rules: readonly { name: string; type: string }[] = []) {
    for (const t of TOOLS) {
      const k = t.kind;
      const names = PROTOCOL_METRICS[t.protocol];
      if (!k.summaryKey || !names) continue;
      const connection = k.marker === CONNECTION_MARKER;
      const family = connection ? names.connections : names.errors;
      if (!family) continue;
      this.byId[k.id] = { kind: k, family, connection, request: names.request };
      const overflow = connection
        ? labelText([
            ["kind", "other"],
            ["server", "other"],
          ])
        : labelText([
            [names.request, "other"],
            ["errno", "other"],
            ["status", "other"],
          ]);
      if (!this.families.has(family)) this.families.set(family, new CounterSeries(overflow));
    }
    // Every configured anomaly from the start at 0, so that rate() and increase() see its first detection.
    for (const r of rules) this.anomalies.set(anomalyLabels(r.name, r.type), 0);
  }

  /** Counts the error and connection events of a batch. */
  observe(b: EventBatch): void {
    const tool = b.tool;
    const byId = this.byId;
    for (let i = 0; i < b.count; i++) {
      const c = byId[tool[i]!];
      if (c === undefined) continue; // latency events: nothing more
      this.families.get(c.family)!.add(c.connection ? this.connectionLabels(c, b, i) : this.errorLabelsOf(c, b, i));
    }
  }

  private errorLabelsOf(c: CountedKind, b: EventBatch, i: number): LabelText {
    const key = `${c.kind.id}:${b.command[i]}:${b.rc[i]}:${b.status[i]}`;
    let l = this.errorLabels.get(key);
    if (l === undefined) {
      const line = c.kind.toLine(b.decode(i, NO_CLOCK));
      const status = line.status ?? line.nfs_status;
      l = labelText([
        [c.request, c.kind.commands.name(b.command[i]!)],
        ["errno", String(line.errno ?? "")],
        ["status", typeof status === "string" ? status : ""],
      ]);
      if (this.errorLabels.size < MAX_COUNTER_SERIES * 4) this.errorLabels.set(key, l);
    }
    return l;
  }

  /** Connection events are rare and carry their server in the record's tail: each is decoded. */
  private connectionLabels(c: CountedKind, b: EventBatch, i: number): LabelText {
    const line = c.kind.toLine(b.decode(i, NO_CLOCK));
    return labelText([
      ["kind", String(line[CONNECTION_MARKER] ?? "")],
      ["server", String(line.server ?? "")],
    ]);
  }

  anomaly(a: Anomaly): void {
    if (a.type === "snapshot") return; // a request, not an anomaly (its bundle is counted)
    const l = anomalyLabels(a.name, a.type);
    this.anomalies.set(l, (this.anomalies.get(l) ?? 0) + 1);
  }

  bundle(bytes: number): void {
    this.bundles++;
    this.bundleBytes += bytes;
  }
}

const anomalyLabels = (name: string, type: string): LabelText =>
  labelText([
    ["anomaly", name],
    ["type", type],
  ]);
