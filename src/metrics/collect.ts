// The metric families of one scrape, built from the daemon's state at that
// moment: the source's latency histograms (kernel maps), lost-event counts,
// the user-space counters, the collector's queue, build and process facts.
// Nothing here touches a mount: kernel maps, aod's own counters and
// /proc/self only, so a dead server cannot hang a scrape.
import { release } from "node:os";
import type { CommandHistogram, ShareHistogram } from "../tools/hist";
import { TOOLS } from "../tools/registry";
import type { EventSource } from "../tools/source";
import type { UploadMetrics } from "../upload/uploader";
import { VERSION } from "../version";
import { coalesce, LE_VALUES } from "./buckets";
import type { EventCounters } from "./counters";
import type { Family, HistogramSeries, LabelText, ScalarFamily } from "./exposition";
import { labelText } from "./exposition";
import { PROTOCOL_METRICS } from "./names";
import { processFamilies } from "./process";
import { OTHER_SHARE, ShareCap } from "./shares";

/** The share label of per-command histograms from a source without per-share ones. */
export const ALL_SHARES = "all";

/** What a scrape reads of the running daemon. */
export interface MetricsView {
  source: EventSource;
  collector: { readonly queued: number; readonly dropped: number };
  /** The upload lane's numbers, when `upload:` is configured. */
  upload?: () => UploadMetrics;
}

export interface CollectOptions {
  maxShares: number;
  counters: EventCounters;
}

/** A source's per-command histogram as a share histogram of share "all" (the protocol from its command table). */
function asShareHistogram(h: CommandHistogram): ShareHistogram | undefined {
  const tool = TOOLS.find((t) => t.histMap && t.kind.commands.id(h.command) !== undefined);
  const protocol = tool?.protocol;
  if (protocol !== "smb" && protocol !== "nfs") return undefined;
  return { protocol, command: h.command, share: ALL_SHARES, counts: h.counts };
}

/**
 * The source's latency histograms per share; from a source without them
 * (shareHistograms not there), its per-command ones as share "all".
 */
export function latencyHistograms(source: EventSource): ShareHistogram[] {
  if (source.shareHistograms) return source.shareHistograms();
  const out: ShareHistogram[] = [];
  for (const h of source.histograms?.() ?? []) {
    const s = asShareHistogram(h);
    if (s) out.push(s);
  }
  return out;
}

/** The hooks in use per protocol ("smb:fentry,nfs:tracepoint"; "none" while waiting), or the source's name. */
export function hooksOf(source: EventSource): string {
  const parts = (source as { sources?: readonly { name: string; variant?: string }[] }).sources;
  if (!parts) return source.name;
  return parts.map((s) => `${s.name}:${s.variant ?? "none"}`).join(",");
}

export class MetricsCollector {
  private readonly caps = new Map<string, ShareCap>();
  /** protocol, command, share label → the series' label text. */
  private labelCache = new Map<string, LabelText>();

  constructor(private readonly opts: CollectOptions) {}

  /**
   * Every family, in exposition order. `withProcess`: the process_* families
   * (not in the textfile: node_exporter exposes its own under those names).
   */
  families(view: MetricsView | undefined, withProcess = true): Family[] {
    const c = this.opts.counters;
    const out: Family[] = [];
    const source = view?.source;
    out.push({
      name: "aod_build",
      type: "info",
      help: "aod's version, the running kernel and the hooks its tools attached with (1).",
      samples: [
        {
          labels: labelText([
            ["version", VERSION],
            ["kernel", release()],
            ["hooks", source ? hooksOf(source) : "none"],
          ]),
          value: 1,
        },
      ],
    });
    out.push(...this.histogramFamilies(source ? latencyHistograms(source) : []));
    for (const [family, series] of c.families) {
      const names = Object.values(PROTOCOL_METRICS).find((p) => p.errors === family || p.connections === family);
      out.push({
        name: family,
        type: "counter",
        help: (names?.errors === family ? names.errorsHelp : names?.connectionsHelp) ?? family,
        samples: [...series.values].sort(byLabels).map(([labels, value]) => ({ labels, value })),
      });
    }
    const lost = source ? Object.entries(source.lost()).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : [];
    out.push({
      name: "aod_events_lost",
      type: "counter",
      help: "Events the kernel dropped because aod's ring buffer was full, by tool.",
      samples: lost.map(([tool, n]) => ({ labels: labelText([["tool", tool]]), value: Number(n) })),
    });
    out.push({
      name: "aod_anomalies",
      type: "counter",
      help: "Anomalies detected (a cooldown's repeats not included), by anomaly name and type.",
      samples: [...c.anomalies].sort(byLabels).map(([labels, value]) => ({ labels, value })),
    });
    out.push(
      scalar("aod_bundles", "counter", "Bundles written (anomalies and snapshots).", c.bundles),
      scalar(
        "aod_bundles_dropped",
        "counter",
        "Anomalies not collected because the collection queue was full.",
        view?.collector.dropped ?? 0,
      ),
      { ...scalar("aod_bundle_bytes", "counter", "Bytes of the bundles written.", c.bundleBytes), unit: "bytes" },
      scalar("aod_collection_queue", "gauge", "Anomalies waiting for a collection slot.", view?.collector.queued ?? 0),
    );
    if (view?.upload) out.push(...uploadFamilies(view.upload()));
    if (withProcess) out.push(...processFamilies());
    return out;
  }

  /** One histogram family per protocol: shares capped, series sorted by request then share. */
  private histogramFamilies(hs: readonly ShareHistogram[]): Family[] {
    const out: Family[] = [];
    for (const [protocol, names] of Object.entries(PROTOCOL_METRICS)) {
      const mine = hs.filter((h) => h.protocol === protocol);
      out.push({
        name: names.duration,
        type: "histogram",
        unit: "seconds",
        help: names.durationHelp,
        series: this.series(protocol, names.request, mine),
      });
    }
    if (this.labelCache.size > 50_000) this.labelCache = new Map(); // shares and commands long gone
    return out;
  }

  private series(protocol: string, request: string, hs: readonly ShareHistogram[]): HistogramSeries[] {
    let cap = this.caps.get(protocol);
    if (!cap) {
      cap = new ShareCap(this.opts.maxShares);
      this.caps.set(protocol, cap);
    }
    // New shares get their own label busiest first.
    const totals = new Map<string, number>();
    for (const h of hs) {
      let t = totals.get(h.share) ?? 0;
      for (const n of h.counts) t += n;
      totals.set(h.share, t);
    }
    const order = [...totals.keys()].sort((a, b) => totals.get(b)! - totals.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
    const labels = cap.labels(order);
    // Series by (command, share label); "other" merges several shares.
    const merged = new Map<string, { command: string; share: string; counts: readonly number[]; own: boolean }>();
    for (const h of hs) {
      const share = labels.get(h.share) ?? OTHER_SHARE;
      const key = `${h.command}\0${share}`;
      const m = merged.get(key);
      if (!m) merged.set(key, { command: h.command, share, counts: h.counts, own: true });
      else {
        const sum = m.own ? [...m.counts] : (m.counts as number[]);
        for (let i = 0; i < sum.length && i < h.counts.length; i++) sum[i]! += h.counts[i]!;
        merged.set(key, { ...m, counts: sum, own: false });
      }
    }
    const entries = [...merged.values()].sort((a, b) => cmp(a.command, b.command) || cmp(a.share, b.share));
    const width = LE_VALUES.length + 1;
    return entries.map((e) => {
      const values = new Float64Array(width);
      coalesce(e.counts, values);
      const key = `${protocol}\0${e.command}\0${e.share}`;
      let l = this.labelCache.get(key);
      if (l === undefined) {
        l = labelText([
          [request, e.command],
          ["share", e.share],
        ]);
        this.labelCache.set(key, l);
      }
      return { labels: l, values };
    });
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byLabels = ([a]: [string, number], [b]: [string, number]) => cmp(a, b);

function scalar(name: string, type: "counter" | "gauge", help: string, value: number): ScalarFamily {
  return { name, type, help, samples: [{ labels: "", value }] };
}

const BREAKER_STATES = ["closed", "open", "half_open"] as const;

/** The upload lane: results since start, the queue now, the breaker as a state set. */
function uploadFamilies(u: UploadMetrics): Family[] {
  const target = (extra: [string, string][] = []) => labelText([["target", u.target], ...extra]);
  return [
    {
      name: "aod_uploads",
      type: "counter",
      help: "Bundles the upload lane finished since aod started, by result: uploaded (with its sidecar), failed (not retried), abandoned (deleted before it was uploaded).",
      samples: (["uploaded", "failed", "abandoned"] as const).map((r) => ({
        labels: target([["result", r]]),
        value: u[r],
      })),
    },
    {
      name: "aod_upload_retries",
      type: "counter",
      help: "Upload attempts that failed and were scheduled again (network, 5xx, throttling).",
      samples: [{ labels: target(), value: u.retries }],
    },
    {
      name: "aod_upload_bytes",
      type: "counter",
      unit: "bytes",
      help: "Bytes of the bundles uploaded since aod started.",
      samples: [{ labels: target(), value: u.uploaded_bytes }],
    },
    {
      name: "aod_upload_queue",
      type: "gauge",
      help: "Bundles waiting to be uploaded (queued, retrying or in flight).",
      samples: [{ labels: target(), value: u.queued }],
    },
    {
      name: "aod_upload_queue_bytes",
      type: "gauge",
      unit: "bytes",
      help: "Bytes of the bundles waiting to be uploaded.",
      samples: [{ labels: target(), value: u.queued_bytes }],
    },
    {
      name: "aod_upload_breaker",
      type: "gauge",
      help: "The upload circuit breaker: 1 for its current state (open: the target refused access; uploads wait).",
      samples: BREAKER_STATES.map((s) => ({ labels: target([["state", s]]), value: u.breaker === s ? 1 : 0 })),
    },
  ];
}
