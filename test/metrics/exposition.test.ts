// The exposition: bounds coalesced exactly from the log2 buckets, the exact
// text of a small state in both formats, escaping, content negotiation, and
// the share cap.
import { describe, expect, test } from "bun:test";
import { BOUNDS_SEC, coalesce, LE_VALUES } from "../../src/metrics/buckets";
import { ByteWriter } from "../../src/metrics/bytes";
import { ALL_SHARES, latencyHistograms, MetricsCollector, type MetricsView } from "../../src/metrics/collect";
import { EventCounters } from "../../src/metrics/counters";
import { escapeLabel, type Family, negotiate, render, valueText } from "../../src/metrics/exposition";
import { OTHER_SHARE, ShareCap } from "../../src/metrics/shares";
import { HIST_SLOTS, type ShareHistogram } from "../../src/tools/hist";
import type { EventSource } from "../../src/tools/source";

const slots = (entries: Record<number, number>) => {
  const c = new Array<number>(HIST_SLOTS).fill(0);
  for (const [i, n] of Object.entries(entries)) c[Number(i)] = n;
  return c;
};

function fakeSource(
  hs: ShareHistogram[] | undefined,
  perCommand?: { command: string; counts: number[] }[],
): EventSource {
  const s: EventSource = {
    name: "fake",
    clock: undefined as never,
    start: async () => {},
    lost: () => ({ smbslower: 3n, smbiosnoop: 0n }),
    status: () => "",
    close: async () => {},
  };
  if (hs) s.shareHistograms = () => hs;
  if (perCommand)
    s.histograms = () => perCommand.map((h, id) => ({ ...h, id, count: h.counts.reduce((a, b) => a + b, 0) }));
  return s;
}

const view = (source: EventSource): MetricsView => ({ source, collector: { queued: 2, dropped: 1 } });

describe("bounds", () => {
  test("11 finite bounds, exact powers of two in us, from 128 us to 8.4 s, then +Inf", () => {
    expect(LE_VALUES).toEqual([
      "0.000128",
      "0.000512",
      "0.002048",
      "0.004096",
      "0.008192",
      "0.016384",
      "0.032768",
      "0.131072",
      "0.524288",
      "2.097152",
      "8.388608",
      "+Inf",
    ]);
    for (const b of BOUNDS_SEC) expect(Number.isInteger(Math.log2(Math.round(b * 1e6)))).toBe(true);
  });

  test("coalescing is exact: a bound at 2^k us sums buckets 0 … k-1", () => {
    // One latency in every log2 bucket: bucket i = [2^i, 2^(i+1)) us.
    const counts = Array.from({ length: HIST_SLOTS }, (_, i) => i + 1);
    const out = new Float64Array(LE_VALUES.length + 1);
    coalesce(counts, out);
    const below = (k: number) => counts.slice(0, k).reduce((a, b) => a + b, 0);
    expect([...out.subarray(0, 11)]).toEqual([7, 9, 11, 12, 13, 14, 15, 17, 19, 21, 23].map(below));
    expect(out[11]).toBe(below(HIST_SLOTS));
    // _sum: the midpoints 1.5·2^i us.
    expect(out[12]).toBeCloseTo(
      counts.reduce((a, n, i) => a + (n * 1.5 * 2 ** i) / 1e6, 0),
      9,
    );
    // 100 ms (bucket 16: 65.5–131 ms) is below 0.131072 and above 0.032768.
    coalesce(slots({ 16: 5 }), out);
    expect([...out.subarray(0, 12)]).toEqual([0, 0, 0, 0, 0, 0, 0, 5, 5, 5, 5, 5]);
    expect(out[12]).toBeCloseTo(5 * 0.098304, 12);
  });
});

describe("exposition text", () => {
  const families: Family[] = [
    {
      name: "aod_build",
      type: "info",
      help: "Build.",
      samples: [{ labels: 'version="1.2.3"', value: 1 }],
    },
    {
      name: "aod_smb_command_duration_seconds",
      type: "histogram",
      unit: "seconds",
      help: "Latency.",
      series: [
        {
          labels: 'command="SMB2_READ",share="\\\\\\\\srv\\\\a"',
          values: Float64Array.from([0, 0, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 0.3]),
        },
      ],
    },
    { name: "aod_bundles", type: "counter", help: "Bundles.", samples: [{ labels: "", value: 4 }] },
    {
      name: "aod_bundle_bytes",
      type: "counter",
      unit: "bytes",
      help: "Bytes.",
      samples: [{ labels: "", value: 1024 }],
    },
    { name: "aod_collection_queue", type: "gauge", help: "Queue.", samples: [{ labels: "", value: 0 }] },
  ];
  const buckets = (l: string) =>
    LE_VALUES.map(
      (le, i) => `aod_smb_command_duration_seconds_bucket{${l},le="${le}"} ${[0, 0, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3][i]}`,
    ).join("\n");
  const series = 'command="SMB2_READ",share="\\\\\\\\srv\\\\a"';

  test("Prometheus text format 0.0.4", () => {
    expect(render(families, "prometheus")).toBe(`# HELP aod_build_info Build.
# TYPE aod_build_info gauge
aod_build_info{version="1.2.3"} 1
# HELP aod_smb_command_duration_seconds Latency.
# TYPE aod_smb_command_duration_seconds histogram
${buckets(series)}
aod_smb_command_duration_seconds_sum{${series}} 0.3
aod_smb_command_duration_seconds_count{${series}} 3
# HELP aod_bundles_total Bundles.
# TYPE aod_bundles_total counter
aod_bundles_total 4
# HELP aod_bundle_bytes_total Bytes.
# TYPE aod_bundle_bytes_total counter
aod_bundle_bytes_total 1024
# HELP aod_collection_queue Queue.
# TYPE aod_collection_queue gauge
aod_collection_queue 0
`);
  });

  test("OpenMetrics 1.0: family names without _total/_info, UNIT, no inexact _sum (so no _count), # EOF", () => {
    expect(render(families, "openmetrics")).toBe(`# TYPE aod_build info
# HELP aod_build Build.
aod_build_info{version="1.2.3"} 1
# TYPE aod_smb_command_duration_seconds histogram
# UNIT aod_smb_command_duration_seconds seconds
# HELP aod_smb_command_duration_seconds Latency.
${buckets(series)}
# TYPE aod_bundles counter
# HELP aod_bundles Bundles.
aod_bundles_total 4
# TYPE aod_bundle_bytes counter
# UNIT aod_bundle_bytes bytes
# HELP aod_bundle_bytes Bytes.
aod_bundle_bytes_total 1024
# TYPE aod_collection_queue gauge
# HELP aod_collection_queue Queue.
aod_collection_queue 0
# EOF
`);
  });

  test("label values and help are escaped", () => {
    expect(escapeLabel('\\\\srv\\share "x"\nnext')).toBe('\\\\\\\\srv\\\\share \\"x\\"\\nnext');
    const f: Family[] = [{ name: "x", type: "gauge", help: 'a\\b "c"\nd', samples: [] }];
    expect(render(f, "prometheus")).toBe('# HELP x a\\\\b "c"\\nd\n# TYPE x gauge\n');
    expect(render(f, "openmetrics")).toBe('# TYPE x gauge\n# HELP x a\\\\b \\"c\\"\\nd\n# EOF\n');
  });

  test("bytes: counts written digit by digit as String() writes them; UTF-8 labels", () => {
    const w = new ByteWriter();
    const xs = [
      0,
      7,
      10,
      99,
      100,
      12345,
      2 ** 31,
      2 ** 32 + 1,
      999_999_999_999_999,
      1e15,
      2 ** 53,
      0.5,
      -3,
      Number.NaN,
    ];
    for (const x of xs) {
      w.count(x, valueText);
      w.byte(32);
    }
    expect(new TextDecoder().decode(w.take())).toBe(`${xs.map(valueText).join(" ")} `);
    const f: Family[] = [
      {
        name: "h",
        type: "histogram",
        help: "H.",
        series: [
          { labels: 'share="\\\\sérveur\\partage-ü"', values: Float64Array.from([...new Array(12).fill(1), 0]) },
        ],
      },
    ];
    expect(render(f, "openmetrics")).toContain('h_bucket{share="\\\\sérveur\\partage-ü",le="+Inf"} 1\n');
  });

  test("negotiation: OpenMetrics when the Accept header prefers it", () => {
    const prometheus2 =
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    expect(negotiate(prometheus2)).toBe("openmetrics");
    expect(negotiate("application/openmetrics-text")).toBe("openmetrics");
    expect(negotiate(undefined)).toBe("prometheus");
    expect(negotiate("*/*")).toBe("prometheus");
    expect(negotiate("text/plain;version=0.0.4")).toBe("prometheus");
    expect(negotiate("application/openmetrics-text;version=1.0.0;q=0.2,text/plain;q=0.5")).toBe("prometheus");
    expect(negotiate("application/openmetrics-text;version=2.0.0")).toBe("prometheus");
    expect(negotiate("application/openmetrics-text;q=0")).toBe("prometheus");
  });
});

describe("share cap", () => {
  test("at most max named shares; the rest as other; a share gone frees its place", () => {
    const cap = new ShareCap(2);
    const l1 = new Map(cap.labels(["a", "b", "c"]));
    expect(l1).toEqual(
      new Map([
        ["a", "a"],
        ["b", "b"],
        ["c", OTHER_SHARE],
      ]),
    );
    // c stays in other while it is there; b goes, d takes its place.
    expect(new Map(cap.labels(["a", "c", "d"]))).toEqual(
      new Map([
        ["a", "a"],
        ["c", OTHER_SHARE],
        ["d", "d"],
      ]),
    );
  });

  test('the collector merges the shares over the cap into share="other", busiest named first', () => {
    const counters = new EventCounters();
    const c = new MetricsCollector({ maxShares: 2, counters });
    const hs: ShareHistogram[] = [
      { protocol: "smb", command: "SMB2_READ", share: "\\\\s\\quiet", counts: slots({ 10: 1 }) },
      { protocol: "smb", command: "SMB2_READ", share: "\\\\s\\busy", counts: slots({ 10: 50 }) },
      { protocol: "smb", command: "SMB2_READ", share: "\\\\s\\mid", counts: slots({ 12: 9 }) },
      { protocol: "smb", command: "SMB2_WRITE", share: "\\\\s\\quiet", counts: slots({ 16: 2 }) },
      { protocol: "nfs", command: "v3:WRITE", share: "10.0.0.1:/x", counts: slots({ 11: 4 }) },
    ];
    const fams = c.families(view(fakeSource(hs)), false);
    const smb = fams.find((f) => f.name === "aod_smb_command_duration_seconds");
    if (smb?.type !== "histogram") throw new Error("no SMB histogram");
    expect(smb.series.map((s) => [s.labels, s.values[11]])).toEqual([
      ['command="SMB2_READ",share="\\\\\\\\s\\\\busy"', 50],
      ['command="SMB2_READ",share="\\\\\\\\s\\\\mid"', 9],
      ['command="SMB2_READ",share="other"', 1],
      ['command="SMB2_WRITE",share="other"', 2],
    ]);
    const nfs = fams.find((f) => f.name === "aod_nfs_rpc_duration_seconds");
    if (nfs?.type !== "histogram") throw new Error("no NFS histogram");
    expect(nfs.series.map((s) => s.labels)).toEqual(['procedure="v3:WRITE",share="10.0.0.1:/x"']);
  });

  test('a source without per-share histograms: its per-command ones as share="all"', () => {
    const src = fakeSource(undefined, [
      { command: "SMB2_CREATE", counts: slots({ 9: 2 }) },
      { command: "v4:OPEN", counts: slots({ 13: 1 }) },
    ]);
    expect(latencyHistograms(src).map((h) => [h.protocol, h.command, h.share])).toEqual([
      ["smb", "SMB2_CREATE", ALL_SHARES],
      ["nfs", "v4:OPEN", ALL_SHARES],
    ]);
  });
});

describe("collector", () => {
  test("every family, in order, with the daemon's state", () => {
    const counters = new EventCounters([{ name: "slow", type: "latency" }]);
    counters.bundle(100);
    counters.anomaly({ name: "slow", type: "latency" } as never);
    counters.anomaly({ name: "snapshot", type: "snapshot" } as never);
    const c = new MetricsCollector({ maxShares: 64, counters });
    const text = render(c.families(view(fakeSource([])), false), "prometheus");
    const samples = text.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(samples.filter((l) => !l.startsWith("aod_build_info"))).toEqual([
      'aod_events_lost_total{tool="smbiosnoop"} 0',
      'aod_events_lost_total{tool="smbslower"} 3',
      'aod_anomalies_total{anomaly="slow",type="latency"} 1',
      "aod_bundles_total 1",
      "aod_bundles_dropped_total 1",
      "aod_bundle_bytes_total 100",
      "aod_collection_queue 2",
    ]);
    expect(samples[0]).toMatch(/^aod_build_info\{version="[^"]+",kernel="[^"]+",hooks="fake"\} 1$/);
    expect(text.match(/^# TYPE \S+/gm)).toEqual([
      "# TYPE aod_build_info",
      "# TYPE aod_smb_command_duration_seconds",
      "# TYPE aod_nfs_rpc_duration_seconds",
      "# TYPE aod_smb_command_errors_total",
      "# TYPE aod_smb_connection_events_total",
      "# TYPE aod_nfs_rpc_errors_total",
      "# TYPE aod_events_lost_total",
      "# TYPE aod_anomalies_total",
      "# TYPE aod_bundles_total",
      "# TYPE aod_bundles_dropped_total",
      "# TYPE aod_bundle_bytes_total",
      "# TYPE aod_collection_queue",
    ]);
    // With the process_* families (the HTTP endpoint).
    const withProcess = render(c.families(view(fakeSource([]))), "prometheus");
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_virtual_memory_bytes",
      "process_start_time_seconds",
      "process_open_fds",
      "process_max_fds",
    ])
      expect(withProcess).toMatch(new RegExp(`^${name} [0-9.e+]+$`, "m"));
  });
});
