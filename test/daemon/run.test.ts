// `aod run` on this host, fed by the load-generator BPF object through a real
// ring buffer into detection and a bundle (no SMB needed).

import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { openBundle } from "../../src/bundle/read";
import { AOD } from "../helpers";
import { bundles, cannotRun, libc, OBJ, startDaemon, waitFor } from "./loadgen-daemon";

describe("aod run with the load generator", () => {
  const cfg = `watch_interval_sec: 1
guardian:
  anomalies:
    slow:
      type: Latency
      acceptable_count: 10
      default_threshold_ms: 20
      cooldown_sec: 60
      actions: [mounts]
collection:
  stop_grace_sec: 0.5
  action_timeout_sec: 30
custom_actions:
  - name: nap
    command: [sleep, "30"]
`;

  test("a burst of slow events becomes one bundle within moments; repeats are counted", async () => {
    if (cannotRun()) return;
    const d = await startDaemon(cfg);
    try {
      const t0 = performance.now();
      libc.getppid(); // 20 events of 100 ms
      const found = await waitFor(() => bundles(d.batches)[0], 5000);
      expect(found).toBeDefined();
      const ms = performance.now() - t0;
      console.log(`burst -> bundle on disk: ${ms.toFixed(1)} ms`);
      expect(ms).toBeLessThan(2000);
      libc.getppid(); // within the cooldown: no new bundle
      await Bun.sleep(300);
      expect(bundles(d.batches).length).toBe(1);
      const b = await openBundle(join(d.batches, found!));
      expect(b.members.map((m) => m.name).sort()).toEqual(["anomaly.json", "manifest.json", "mounts.log"]);
      const a = b.anomaly!;
      expect(a.type).toBe("latency");
      expect(a.name).toBe("slow");
      expect(a.counts?.in_window).toBe(10);
      expect(a.triggers?.length).toBe(10);
      expect(a.triggers?.[0]).toMatchObject({
        tool: "smbslower",
        latency_ms: 100,
        pid: process.pid,
        session_id: "0x1234",
        tree_id: "0x5",
      });
      expect(Math.abs(Number(BigInt(a.triggers?.[0]?.time_ns ?? 0) / 1_000_000n) - Date.now())).toBeLessThan(10_000);
      expect(a.lost_events).toEqual({ smbslower: 0, smbiosnoop: 0, smbconn: 0 });
    } finally {
      d.proc.kill("SIGTERM");
      expect(await d.proc.exited).toBe(0);
    }
  });

  test("aod snapshot finds the daemon, which collects watcher.actions into a snapshot bundle", async () => {
    if (cannotRun()) return;
    const d = await startDaemon(
      cfg.replace("watch_interval_sec: 1", "watch_interval_sec: 1\nwatcher:\n  actions: [mounts, stats]"),
    );
    try {
      const r = Bun.spawn([AOD, "snapshot", "--config", d.cfg, "--timeout", "10"], { stdout: "pipe", stderr: "pipe" });
      const [out, code] = [await new Response(r.stdout).text(), await r.exited];
      expect(code).toBe(0);
      const path = out.trim();
      expect(path).toStartWith(d.batches);
      const b = await openBundle(path);
      const a = b.anomaly!;
      expect(a.type).toBe("snapshot");
      expect(a.reason).toContain("SIGUSR1");
      expect(b.members.map((m) => m.name).sort()).toEqual([
        "anomaly.json",
        "cifsstats.log",
        "manifest.json",
        "mounts.log",
      ]);
      expect(a.actions?.find((x) => x.name === "mounts")?.status).toBe("ok");
    } finally {
      d.proc.kill("SIGTERM");
      expect(await d.proc.exited).toBe(0);
    }
  });

  test("a second instance is refused", async () => {
    if (cannotRun()) return;
    const d = await startDaemon(cfg);
    try {
      const r = Bun.spawnSync([AOD, "_loadgen", "--loadgen", OBJ, "--loadgen-pid", "1"], { stderr: "pipe" });
      expect(r.exitCode).toBe(1);
      expect(r.stderr.toString()).toContain("another aod is already running");
    } finally {
      d.proc.kill("SIGTERM");
      await d.proc.exited;
    }
  });

  test("SIGTERM during a collection: exit 0 soon, no partial bundle", async () => {
    if (cannotRun()) return;
    const d = await startDaemon(cfg.replace("actions: [mounts]", "actions: [nap]"));
    libc.getppid();
    expect(await waitFor(() => (d.log().includes("anomaly detected") ? true : undefined), 3000)).toBe(true);
    await Bun.sleep(100);
    const t0 = performance.now();
    d.proc.kill("SIGTERM");
    expect(await d.proc.exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(readdirSync(d.batches)).toEqual([]);
  });
});
