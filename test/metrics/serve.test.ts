// /metrics over HTTP on a loopback port and on a unix socket, the textfile
// written atomically with mode 0644, and promtool's verdict on a full-size
// exposition (64 shares × 20 commands).
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { MetricsCollector } from "../../src/metrics/collect";
import { EventCounters } from "../../src/metrics/counters";
import { render } from "../../src/metrics/exposition";
import { Metrics } from "../../src/metrics/metrics";
import { MetricsServer } from "../../src/metrics/server";
import { TextfileWriter, writeTextfile } from "../../src/metrics/textfile";
import { skipReason, tempDir } from "../helpers";
import { fakeSource, freePort, syntheticHistograms } from "./helpers";

const stops: (() => unknown)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe("HTTP server", () => {
  const render = (f: string) => `# ${f}\n`;

  test("loopback port: GET /metrics 200 with the format's Content-Type; other paths 404; POST 405", async () => {
    const port = freePort();
    const s = new MetricsServer(
      { kind: "tcp", host: "127.0.0.1", port, loopback: true, any: false, families: ["AF_INET"] },
      render,
    );
    s.start();
    stops.push(() => s.stop());
    const base = `http://127.0.0.1:${port}`;
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await r.text()).toBe("# prometheus\n");
    const om = await fetch(`${base}/metrics`, { headers: { accept: "application/openmetrics-text; version=1.0.0" } });
    expect(om.headers.get("content-type")).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8");
    expect(await om.text()).toBe("# openmetrics\n");
    for (const p of ["/", "/metrics/", "/debug", "/metrics.txt"]) expect((await fetch(`${base}${p}`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST", body: "x" })).status).toBe(405);
    expect(s.scrapes).toBe(2);
  });

  test("a port in use: start throws naming the address", async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    stops.push(() => holder.close());
    const port = (holder.address() as AddressInfo).port;
    const s = new MetricsServer(
      { kind: "tcp", host: "127.0.0.1", port, loopback: true, any: false, families: ["AF_INET"] },
      render,
    );
    expect(() => s.start()).toThrow(`cannot serve /metrics on 127.0.0.1:${port}`);
  });

  test("unix socket: served, mode 0666, a stale socket replaced, removed at stop; not over a regular file", async () => {
    const dir = tempDir();
    const path = join(dir, "metrics.sock");
    const first = new MetricsServer({ kind: "unix", path }, render);
    first.start();
    await first.stop(); // removes it; a crash would leave it: make one
    const stale = new MetricsServer({ kind: "unix", path }, render);
    stale.start();
    const s = new MetricsServer({ kind: "unix", path }, render);
    s.start(); // over the previous one's socket file
    stops.push(() => s.stop());
    expect(statSync(path).mode & 0o777).toBe(0o666);
    const r = await fetch("http://localhost/metrics", { unix: path });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect((await fetch("http://localhost/other", { unix: path })).status).toBe(404);
    await s.stop();
    expect(existsSync(path)).toBe(false);
    stale.stop();
    const file = join(dir, "file");
    writeFileSync(file, "keep");
    expect(() => new MetricsServer({ kind: "unix", path: file }, render).start()).toThrow("is not a socket");
    expect(readFileSync(file, "utf8")).toBe("keep");
  });
});

describe("textfile", () => {
  test("written atomically (temporary name, rename), mode 0644 under umask 077, no leftovers", () => {
    const dir = tempDir();
    const path = join(dir, "aod.prom");
    const old = process.umask(0o077);
    try {
      writeTextfile(path, "a 1\n");
      writeTextfile(path, "a 2\n");
    } finally {
      process.umask(old);
    }
    expect(readFileSync(path, "utf8")).toBe("a 2\n");
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(["aod.prom"]);
  });

  test("a symlink planted at the temporary name is not followed", () => {
    const dir = tempDir();
    const victim = join(dir, "victim");
    writeFileSync(victim, "untouched");
    symlinkSync(victim, join(dir, `aod.prom.${process.pid}.tmp`));
    writeTextfile(join(dir, "aod.prom"), "x 1\n");
    expect(readFileSync(victim, "utf8")).toBe("untouched");
    expect(readFileSync(join(dir, "aod.prom"), "utf8")).toBe("x 1\n");
  });

  test("the writer: at start and each interval; a missing directory is retried, not thrown; removed at stop", async () => {
    const dir = tempDir();
    const sub = join(dir, "later");
    const path = join(sub, "aod.prom");
    let n = 0;
    const w = new TextfileWriter(path, 1, () => `aod_test ${++n}\n`);
    stops.push(() => w.stop());
    w.start(); // the directory does not exist yet
    expect(w.writes).toBe(0);
    mkdirSync(sub);
    await Bun.sleep(1300);
    expect(w.writes).toBe(1);
    expect(readFileSync(path, "utf8")).toMatch(/^aod_test \d+\n$/);
    w.stop();
    expect(existsSync(path)).toBe(false);
  });

  test("the metrics component's textfile has no process_* families (node_exporter has its own)", () => {
    const dir = tempDir();
    const m = new Metrics({ max_shares: 64, textfile: { path: join(dir, "aod.prom"), interval_sec: 60 } });
    m.start({ source: fakeSource([]), collector: { queued: 0, dropped: 0 } });
    stops.push(() => m.stop());
    const text = readFileSync(join(dir, "aod.prom"), "utf8");
    expect(text).toContain("# TYPE aod_bundles_total counter");
    expect(text).not.toContain("process_");
    expect(m.render("prometheus")).toContain("process_cpu_seconds_total");
  });
});

describe("promtool check metrics", () => {
  test("accepts the exposition of 64 shares × 20 commands, with every family", () => {
    if (skipReason({ "promtool not installed (Debian package prometheus; make deps)": !Bun.which("promtool") })) return;
    const c = new MetricsCollector({ maxShares: 64, counters: new EventCounters([{ name: "slow", type: "latency" }]) });
    const view = { source: fakeSource(syntheticHistograms(64, 20)), collector: { queued: 1, dropped: 0 } };
    const text = render(c.families(view), "prometheus");
    expect(text.split("\n").filter((l) => l.startsWith("aod_smb_command_duration_seconds_bucket")).length).toBe(
      64 * 20 * 12,
    );
    const r = Bun.spawnSync(["promtool", "check", "metrics"], {
      stdin: Buffer.from(text),
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.stdout.toString() + r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
