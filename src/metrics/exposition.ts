// Metric families rendered in the Prometheus text format 0.0.4, or in
// OpenMetrics 1.0 text when the scraper asks for it. The differences:
// OpenMetrics names a counter's family without `_total` (its sample has it)
// and an info family without `_info`, gives UNIT lines, ends with `# EOF`, and
// a histogram without an exact sum has neither `_sum` nor `_count` (its +Inf
// bucket is the count); 0.0.4 always has both, the sum estimated (see
// ./buckets.ts).
import { LE_VALUES } from "./buckets";
import { ByteWriter } from "./bytes";

export type Format = "prometheus" | "openmetrics";

export const CONTENT_TYPE: Record<Format, string> = {
  prometheus: "text/plain; version=0.0.4; charset=utf-8",
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/** A label set as rendered between the braces: `a="x",b="y"` (escaped; see labelText). */
export type LabelText = string;

export interface Sample {
  labels: LabelText;
  value: number;
}

interface FamilyBase {
  /** Without type suffixes: `aod_bundles` (counter), `aod_build` (info), `aod_collection_queue` (gauge). */
  name: string;
  help: string;
  /** OpenMetrics UNIT (the name ends with `_<unit>`). */
  unit?: "seconds" | "bytes";
}

export interface ScalarFamily extends FamilyBase {
  type: "counter" | "gauge" | "info";
  samples: Sample[];
}

export interface HistogramSeries {
  labels: LabelText;
  /** Cumulative counts at each LE_VALUES bound (+Inf last), then the `_sum` estimate. */
  values: ArrayLike<number>;
}

export interface HistogramFamily extends FamilyBase {
  type: "histogram";
  series: HistogramSeries[];
}

export type Family = ScalarFamily | HistogramFamily;

/** A label value escaped: backslash, double quote and line feed (both formats). */
export const escapeLabel = (v: string): string =>
  /[\\"\n]/.test(v) ? v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : v;

/** Label pairs as rendered between braces. */
export function labelText(pairs: readonly (readonly [string, string])[]): LabelText {
  let s = "";
  for (const [k, v] of pairs) s += `${s ? "," : ""}${k}="${escapeLabel(v)}"`;
  return s;
}

const escapeHelp = (h: string, f: Format): string =>
  f === "openmetrics"
    ? h.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
    : h.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/** A sample value: integers as such, +Inf/-Inf/NaN by name. */
export function valueText(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

/** The name a family's samples have, and its 0.0.4 TYPE/HELP name. */
function sampleName(f: Family): string {
  if (f.type === "counter") return `${f.name}_total`;
  if (f.type === "info") return `${f.name}_info`;
  return f.name;
}

function header(f: Family, fmt: Format): string {
  if (fmt === "prometheus") {
    const n = sampleName(f);
    const type = f.type === "info" ? "gauge" : f.type;
    return `# HELP ${n} ${escapeHelp(f.help, fmt)}\n# TYPE ${n} ${type}\n`;
  }
  const unit = f.unit ? `# UNIT ${f.name} ${f.unit}\n` : "";
  return `# TYPE ${f.name} ${f.type}\n${unit}# HELP ${f.name} ${escapeHelp(f.help, fmt)}\n`;
}

/** A series' encoded line starts: `<name>_bucket{<labels>,le="<bound>"} ` for each bound, `_sum{…} `, `_count{…} `. */
interface SeriesBytes {
  buckets: Uint8Array[];
  sum: Uint8Array;
  count: Uint8Array;
}

/**
 * Per family, per label text (the same string objects scrape after scrape):
 * encoded once, kept while the series is exposed (each exposition keeps only
 * the series it wrote: shares that went leave nothing behind).
 */
const seriesBytes = new Map<string, Map<LabelText, SeriesBytes>>();
const encoder = new TextEncoder();

function encodeSeries(f: HistogramFamily, labels: LabelText): SeriesBytes {
  const l = labels ? `{${labels}} ` : " ";
  return {
    buckets: LE_VALUES.map((le) => encoder.encode(`${f.name}_bucket{${labels ? `${labels},` : ""}le="${le}"} `)),
    sum: encoder.encode(`${f.name}_sum${l}`),
    count: encoder.encode(`${f.name}_count${l}`),
  };
}

function histogram(f: HistogramFamily, fmt: Format, w: ByteWriter): void {
  const nb = LE_VALUES.length;
  const before = seriesBytes.get(f.name);
  const now = new Map<LabelText, SeriesBytes>();
  for (const s of f.series) {
    const v = s.values;
    let b = now.get(s.labels) ?? before?.get(s.labels);
    if (!b) b = encodeSeries(f, s.labels);
    now.set(s.labels, b);
    for (let i = 0; i < nb; i++) {
      w.bytes(b.buckets[i]!);
      w.count(v[i]!, valueText);
      w.byte(NL);
    }
    if (fmt === "prometheus") {
      w.bytes(b.sum);
      w.text(valueText(v[nb]!));
      w.byte(NL);
      w.bytes(b.count);
      w.count(v[nb - 1]!, valueText);
      w.byte(NL);
    }
  }
  seriesBytes.set(f.name, now);
}

function scalars(f: ScalarFamily, w: ByteWriter): void {
  const n = sampleName(f);
  for (const s of f.samples) w.text(`${n}${s.labels ? `{${s.labels}}` : ""} ${valueText(s.value)}\n`);
}

const NL = 10;
const writer = new ByteWriter();
const decoder = new TextDecoder();

/** The exposition of `families`, in order, as the bytes a response or the textfile carries (UTF-8). */
export function renderBytes(families: readonly Family[], fmt: Format): Uint8Array<ArrayBuffer> {
  for (const f of families) {
    writer.text(header(f, fmt));
    if (f.type === "histogram") histogram(f, fmt, writer);
    else scalars(f, writer);
  }
  if (fmt === "openmetrics") writer.text("# EOF\n");
  return writer.take();
}

/** The same as text. */
export const render = (families: readonly Family[], fmt: Format): string => decoder.decode(renderBytes(families, fmt));

/**
 * The format an Accept header asks for: OpenMetrics when it lists
 * application/openmetrics-text (version 1.0.0 or none) with a q at least that
 * of text/plain and any wildcard; otherwise the 0.0.4 text format.
 */
export function negotiate(accept: string | null | undefined): Format {
  if (!accept) return "prometheus";
  let om = 0;
  let text = 0;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.split(";").map((x) => x.trim().toLowerCase());
    let q = 1;
    let version: string | undefined;
    for (const p of params) {
      const [k, v] = p.split("=").map((x) => x.trim());
      if (k === "q") q = Number(v);
      else if (k === "version") version = v;
    }
    if (!Number.isFinite(q)) q = 0;
    if (type === "application/openmetrics-text" && (version === undefined || version === "1.0.0")) om = Math.max(om, q);
    else if (type === "text/plain" || type === "text/*" || type === "*/*") text = Math.max(text, q);
  }
  return om > 0 && om >= text ? "openmetrics" : "prometheus";
}
