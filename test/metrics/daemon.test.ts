// The daemon with metrics: `aod _loadgen` (the load generator's events
// through a real ring buffer) serving /metrics on a unix socket and writing
// the textfile; error events counted as they arrive, anomalies and bundles;
// the socket and the file gone after SIGTERM. And a real Prometheus (Debian's
// prometheus, started here on a free loopback port with its own config and
// storage) scraping it: its HTTP API gives back the bucket the generator's
// latencies fall in.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SMB2_COMMAND_TABLE } from "../../src/format/smb2-commands";
import { cannotRun, libc, startDaemon, waitFor } from "../daemon/loadgen-daemon";
import { skipReason, tempDir } from "../helpers";
import { eventually, freePort } from "./helpers";

const scrape = async (unix: string) => (await fetch("http://localhost/metrics", { unix })).text();
const sample = (text: string, line: string) =>
  Number(
    text
      .split("\n")
      .find((l) => l.startsWith(`${line} `))
      ?.slice(line.length + 1) ?? Number.NaN,
  );

describe("aod _loadgen with metrics", () => {
  test("errors counted per command, errno and status; anomalies, bundles; socket and textfile removed at stop", async () => {
    if (cannotRun()) return;
    const dir = tempDir();
    const sock = join(dir, "metrics.sock");
    const prom = join(dir, "aod.prom");
    const d = await startDaemon(
      `watch_interval_sec: 1
guardian:
  anomalies:
    denied:
      type: Error
      mode: trackonly
      track_codes: [EACCES]
      acceptable_count: 10
      cooldown_sec: 60
metrics:
  listen: ${sock}
  textfile:
    path: ${prom}
    interval_sec: 1
`,
      "burst=20,tool=1,rc=-13",
    );
    try {
      expect(statSync(sock).mode & 0o777).toBe(0o666);
      const before = await scrape(sock);
      expect(sample(before, 'aod_anomalies_total{anomaly="denied",type="error"}')).toBe(0);
      libc.getppid(); // 20 SMB errors EACCES / STATUS_ACCESS_DENIED, one per command in turn
      await waitFor(() => (d.log().includes('"msg":"bundle written"') ? true : undefined), 5000);
      const text = await scrape(sock);
      const errors = text
        .split("\n")
        .filter((l) => l.startsWith("aod_smb_command_errors_total{"))
        .map((l) => Number(l.split(" ")[1]));
      expect(errors.reduce((a, b) => a + b, 0)).toBe(20);
      expect(text).toContain(
        'aod_smb_command_errors_total{command="SMB2_READ",errno="EACCES",status="STATUS_ACCESS_DENIED"} 1\n',
      );
      expect(sample(text, 'aod_anomalies_total{anomaly="denied",type="error"}')).toBe(1);
      expect(sample(text, "aod_bundles_total")).toBe(1);
      expect(sample(text, "aod_bundle_bytes_total")).toBeGreaterThan(100);
      expect(sample(text, "aod_collection_queue")).toBe(0);
      expect(text).toMatch(/^aod_build_info\{version="[^"]+",kernel="[^"]+",hooks="loadgen"\} 1$/m);
      expect(text).toMatch(/^process_open_fds \d+$/m);
      // The textfile: the same counters, at most interval_sec behind; no process_* families.
      const file = await waitFor(() => {
        const t = existsSync(prom) ? readFileSync(prom, "utf8") : "";
        return sample(t, "aod_bundles_total") === 1 ? t : undefined;
      }, 3000);
      expect(file).toContain('status="STATUS_ACCESS_DENIED"');
      expect(file).not.toContain("process_");
      expect(statSync(prom).mode & 0o777).toBe(0o644);
    } finally {
      d.proc.kill("SIGTERM");
      expect(await d.proc.exited).toBe(0);
    }
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(prom)).toBe(false);
  });
});

/** One instant query against Prometheus's HTTP API: [labels, value] of each result. */
async function query(base: string, q: string): Promise<[Record<string, string>, number][]> {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const j = (await r.json()) as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (j.status !== "success") throw new Error(`${q}: ${j.error}`);
  return j.data.result.map((x) => [x.metric, Number(x.value[1])]);
}

describe("a real Prometheus scraping aod", () => {
  test("histogram_quantile(0.99, …) by command lands in the generator's bucket", async () => {
    if (
      cannotRun() ||
      skipReason({ "prometheus not installed (Debian package prometheus; make deps)": !Bun.which("prometheus") })
    )
      return;
    const t0 = performance.now();
    const dir = tempDir();
    const aodPort = freePort();
    const promPort = freePort();
    const d = await startDaemon(
      `watch_interval_sec: 1
guardian:
  anomalies:
    slow:
      type: Latency
      acceptable_count: 10
      default_threshold_ms: 20
      cooldown_sec: 60
metrics:
  listen: 127.0.0.1:${aodPort}
`,
      "burst=5,latency_ns=100000000", // 5 events of 100 ms per getppid(): bucket [65.5 ms, 131 ms)
    );
    writeFileSync(
      join(dir, "prometheus.yml"),
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: aod
    static_configs:
      - targets: ["127.0.0.1:${aodPort}"]
`,
    );
    const prom = Bun.spawn(
      [
        "prometheus",
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        "--log.level=warn",
      ],
      { stdout: "ignore", stderr: "pipe" },
    );
    const base = `http://127.0.0.1:${promPort}`;
    try {
      const ready = await eventually(async () => {
        try {
          return (await fetch(`${base}/-/ready`)).ok || undefined;
        } catch {
          return undefined;
        }
      }, 15_000);
      expect(ready).toBe(true);
      // Prometheus starts scraping a few seconds after it is ready (its discovery's first update).
      const up = await eventually(async () => (await query(base, 'up{job="aod"}'))[0]?.[1], 15_000);
      expect(up).toBe(1);
      // Slow events for 4 s, every 100 ms: several scrapes see the counters rise.
      const until = performance.now() + 4000;
      while (performance.now() < until) {
        libc.getppid();
        await Bun.sleep(100);
      }
      const commands = SMB2_COMMAND_TABLE.names.length; // the generator takes them in turn
      const p99 = "histogram_quantile(0.99, sum by (le, command) (rate(aod_smb_command_duration_seconds_bucket[1m])))";
      const results = await eventually(async () => {
        const r = (await query(base, p99)).filter(([, v]) => Number.isFinite(v));
        return r.length === commands ? r : undefined;
      }, 5000);
      // Every SMB2 command's p99 inside [0.032768, 0.131072]: Prometheus interpolates linearly
      // in the bucket, 0.032768 + 0.99 × (0.131072 − 0.032768).
      expect(results?.length).toBe(commands);
      for (const [, v] of results!) expect(v).toBeCloseTo(0.032768 + 0.99 * (0.131072 - 0.032768), 9);
      // The buckets themselves: nothing at or below 32.8 ms, everything by 131 ms.
      const buckets = Object.fromEntries(
        (await query(base, 'sum by (le) (aod_smb_command_duration_seconds_bucket{share="all"})')).map(([m, v]) => [
          m.le,
          v,
        ]),
      );
      expect(buckets["0.032768"]).toBe(0);
      expect(buckets["0.131072"]).toBeGreaterThanOrEqual(100);
      expect(buckets["+Inf"]).toBe(buckets["0.131072"]);
      expect(await query(base, 'up{job="aod"}')).toEqual([[expect.objectContaining({ job: "aod" }), 1]]);
      expect((await query(base, 'aod_anomalies_total{anomaly="slow"}'))[0]?.[1]).toBeGreaterThanOrEqual(1);
      // Prometheus asked for OpenMetrics: histograms without an exact _sum have no _count there.
      expect(await query(base, "aod_smb_command_duration_seconds_count")).toEqual([]);
      console.log(
        `real Prometheus: ${commands} commands' p99 ${results![0]![1]} s; ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    } finally {
      prom.kill("SIGTERM");
      await prom.exited;
      d.proc.kill("SIGTERM");
      expect(await d.proc.exited).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
