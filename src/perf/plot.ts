// Figures for `aod compare`: a vega-lite spec, compiled and rendered to SVG by
// vega headless (no canvas), rasterized to PNG by resvg (wasm). The wasm and the
// font are embedded in the binary; vega, vega-lite and resvg load on first use.

import type { CustomFontsOptions, SystemFontsOptions } from "@resvg/resvg-wasm";
import wasmPath from "@resvg/resvg-wasm/index_bg.wasm" with { type: "file" };
import fontPath from "dejavu-fonts-ttf/ttf/DejaVuSans.ttf" with { type: "file" };
import type { TopLevelSpec } from "vega-lite";

export interface Series {
  name: string;
  t: ArrayLike<number>;
  v: ArrayLike<number>;
}

export interface Panel {
  title: string;
  yTitle: string;
  series: Series[];
  /** Series drawn against a second y axis on the right (another unit). */
  right?: { yTitle: string; series: Series[] };
  /** Horizontal lines, e.g. averages, coloured like the series they belong to. */
  rules?: { series: string; y: number }[];
  xDomain?: [number, number];
  /** Text in the middle of the panel, e.g. "no samples". */
  note?: string;
}

export interface Figure {
  title: string;
  panels: Panel[];
}

export interface Rendered {
  svg: string;
  png: Uint8Array;
  width: number;
  height: number;
}

const FONT = "DejaVu Sans";
const PLOT_WIDTH = 960;
const PLOT_HEIGHT = 200;
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/** Size in pixels of the PNG (and SVG) of a figure with `panels` panels. */
export function figureSize(panels: number): { width: number; height: number } {
  return { width: 1200, height: 60 + 270 * Math.max(1, panels) };
}

type Row = { t: number; v: number; s: string };

/**
 * The points of the series as vega data. Beyond two points per pixel column a
 * series is reduced to the first, lowest, highest and last point of each column
 * (M4): the drawn line is the same, and 10 000 rows stay fast to render.
 */
export function rows(series: Series[], columns = PLOT_WIDTH): Row[] {
  const out: Row[] = [];
  for (const s of series) {
    const idx: number[] = [];
    for (let i = 0; i < s.t.length; i++) if (!Number.isNaN(s.v[i]!)) idx.push(i);
    if (idx.length <= 4 * columns) {
      for (const i of idx) out.push({ t: s.t[i]!, v: s.v[i]!, s: s.name });
      continue;
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of idx) {
      lo = Math.min(lo, s.t[i]!);
      hi = Math.max(hi, s.t[i]!);
    }
    const width = (hi - lo) / columns || 1;
    let bucket = -1;
    let pick: number[] = [];
    const flush = () => {
      const kept = [...new Set(pick)].sort((a, b) => a - b);
      for (const i of kept) out.push({ t: s.t[i]!, v: s.v[i]!, s: s.name });
    };
    for (const i of idx) {
      const b = Math.min(columns - 1, Math.floor((s.t[i]! - lo) / width));
      if (b !== bucket) {
        if (pick.length) flush();
        bucket = b;
        pick = [i, i, i, i]; // first, min, max, last
      } else {
        if (s.v[i]! < s.v[pick[1]!]!) pick[1] = i;
        if (s.v[i]! > s.v[pick[2]!]!) pick[2] = i;
        pick[3] = i;
      }
    }
    if (pick.length) flush();
  }
  return out;
}

/** A figure's vega-lite spec, and one panel of it (an entry of its vconcat). */
type FigureSpec = Extract<TopLevelSpec, { vconcat: unknown }>;
type PanelSpec = FigureSpec["vconcat"][number];
type LayerSpec = Extract<PanelSpec, { layer: unknown }>;
type Layer = LayerSpec["layer"][number];

function panelSpec(p: Panel, names: string[]): PanelSpec {
  const x = {
    field: "t",
    type: "quantitative" as const,
    title: "Time since first sample (s)",
    ...(p.xDomain ? { scale: { domain: p.xDomain, nice: false } } : {}),
  };
  // Fixed legend order and colours: the runs in the order given (A, then B, ...).
  const color = { field: "s", type: "nominal" as const, title: null, scale: { domain: names, range: PALETTE } };
  const line = (series: Series[], yTitle: string, orient?: "right"): Layer => ({
    data: { values: rows(series) },
    mark: { type: "line", strokeWidth: 1.2, clip: true },
    encoding: {
      x,
      y: { field: "v", type: "quantitative", title: yTitle, ...(orient ? { axis: { orient } } : {}) },
      color,
    },
  });
  const layers: Layer[] = [line(p.series, p.yTitle)];
  if (p.rules?.length) {
    layers.push({
      data: { values: p.rules.map((r) => ({ y: r.y, s: r.series })) },
      mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 1.5 },
      encoding: { y: { field: "y", type: "quantitative" }, color },
    });
  }
  if (p.note) {
    layers.push({
      data: { values: [{}] },
      mark: { type: "text", fontSize: 16, color: "#555" },
      encoding: { text: { value: p.note }, x: { value: PLOT_WIDTH / 2 }, y: { value: PLOT_HEIGHT / 2 } },
    });
  }
  const spec = { title: p.title, width: PLOT_WIDTH, height: PLOT_HEIGHT };
  if (p.right) {
    // Two units: left and right y axes, each scaled on its own.
    return {
      ...spec,
      layer: [{ layer: layers }, line(p.right.series, p.right.yTitle, "right")],
      resolve: { scale: { y: "independent" } },
    };
  }
  return { ...spec, layer: layers };
}

export function figureSpec(fig: Figure): FigureSpec {
  const names = [...new Set(fig.panels.flatMap((p) => [...p.series, ...(p.right?.series ?? [])].map((s) => s.name)))];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: fig.title, fontSize: 18, anchor: "middle", offset: 14 },
    background: "white",
    padding: 12,
    vconcat: fig.panels.map((p) => panelSpec(p, names)),
    resolve: { scale: { color: "shared", x: "independent" } },
    config: {
      font: FONT,
      title: { fontSize: 14 },
      axis: { labelFontSize: 11, titleFontSize: 12 },
      legend: { labelFontSize: 12, symbolType: "stroke" },
    },
  };
}

let resvg: Promise<{ Resvg: typeof import("@resvg/resvg-wasm").Resvg; font: Uint8Array }> | undefined;

function loadResvg() {
  resvg ??= (async () => {
    const mod = await import("@resvg/resvg-wasm");
    await mod.initWasm(await Bun.file(wasmPath).arrayBuffer());
    return { Resvg: mod.Resvg, font: new Uint8Array(await Bun.file(fontPath).arrayBuffer()) };
  })();
  return resvg;
}

/** Puts vega's SVG (its natural size) centred on a canvas of the figure's fixed size. */
function fitSvg(svg: string, width: number, height: number): string {
  const inner = svg.replace(/^<svg\b([^>]*)>/, (_, attrs: string) => {
    const kept = attrs.replace(/\s(width|height|x|y|preserveAspectRatio)="[^"]*"/g, "");
    return `<svg${kept} x="0" y="0" width="${width}" height="${height}" preserveAspectRatio="xMidYMid meet">`;
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<rect width="${width}" height="${height}" fill="white"/>${inner}</svg>\n`
  );
}

export async function renderFigure(fig: Figure): Promise<Rendered> {
  const [vl, vega, rs] = await Promise.all([import("vega-lite"), import("vega"), loadResvg()]);
  const compiled = vl.compile(figureSpec(fig)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  let natural: string;
  try {
    natural = await view.toSVG();
  } finally {
    view.finalize();
  }
  const { width, height } = figureSize(fig.panels.length);
  const svg = fitSvg(natural, width, height);
  // Both kinds of font option: our font, and no system fonts.
  const font: CustomFontsOptions & SystemFontsOptions = {
    fontBuffers: [rs.font],
    defaultFontFamily: FONT,
    loadSystemFonts: false,
  };
  const r = new rs.Resvg(svg, { font, background: "white" });
  const image = r.render();
  const png = image.asPng();
  image.free();
  r.free();
  return { svg, png, width, height };
}
