// SIGHUP (`systemctl reload aod`) on a running daemon fed by the load
// generator: an invalid config is logged and the running one stays; a valid
// one takes effect at once, keeping an unchanged rule's cooldown and taking
// over a changed rule's; what only a restart changes is named.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { bundles, cannotRun, libc, startDaemon, waitFor } from "./loadgen-daemon";

const config = (rules: string) => `watch_interval_sec: 1
guardian:
  anomalies:
${rules}
collection:
  stop_grace_sec: 0.5
`;
// Every burst: 20 events of 100 ms.
const SLOW = `    slow:
      type: Latency
      acceptable_count: 10
      default_threshold_ms: 20
      cooldown_sec: 60
      actions: []
`;
const logLines = (log: string) =>
  log
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { msg: string; [k: string]: unknown });

describe("config reload (SIGHUP)", () => {
  test("invalid config: logged with its problem, the running one stays and still detects", async () => {
    if (cannotRun()) return;
    const d = await startDaemon(config(SLOW));
    try {
      const text = readFileSync(d.cfg, "utf8");
      writeFileSync(d.cfg, text.replace("acceptable_count: 10", "acceptable_count: ten"));
      d.proc.kill("SIGHUP");
      const failed = await waitFor(() => logLines(d.log()).find((l) => l.msg.startsWith("config reload failed")), 5000);
      expect(failed, d.log()).toBeDefined();
      expect(String(failed!.error)).toContain("acceptable_count");
      expect(d.proc.exitCode).toBeNull();
      libc.getppid();
      expect(await waitFor(() => bundles(d.batches)[0], 5000), "the old rule still detects").toBeDefined();
    } finally {
      d.proc.kill("SIGTERM");
      expect(await d.proc.exited).toBe(0);
    }
  });

  test("valid config: unchanged rule keeps its cooldown, a new rule detects, a changed one keeps its cooldown", async () => {
    if (cannotRun()) return;
    const d = await startDaemon(config(SLOW));
    try {
      libc.getppid(); // `slow` fires; cooldown 60 s
      expect(await waitFor(() => bundles(d.batches)[0], 5000)).toBeDefined();

      // Add a rule; `slow` unchanged; the output dir changes (needs a restart).
      const added = `${SLOW}    fast:
      type: Latency
      acceptable_count: 5
      default_threshold_ms: 50
      cooldown_sec: 60
      actions: []
`;
      writeFileSync(d.cfg, `aod_output_dir: /tmp/aod-reload-elsewhere\n${config(added)}`);
      d.proc.kill("SIGHUP");
      const done = await waitFor(() => logLines(d.log()).find((l) => l.msg === "config reloaded"), 5000);
      expect(done, d.log()).toBeDefined();
      expect(done).toMatchObject({ kept: ["slow"], added: ["fast"], changed: [], removed: [] });
      expect(done!.needs_restart).toEqual(["aod_output_dir"]);

      libc.getppid(); // `slow` is cooling down (no bundle); `fast` is new (one bundle)
      expect(await waitFor(() => (bundles(d.batches).length === 2 ? true : undefined), 5000)).toBe(true);
      await Bun.sleep(300);
      const names = logLines(d.log())
        .filter((l) => l.msg === "anomaly detected")
        .map((l) => l.anomaly);
      expect(names).toEqual(["slow", "fast"]);

      // Change `slow` (a threshold): a new detector, still in the old cooldown.
      writeFileSync(
        d.cfg,
        `aod_output_dir: /tmp/aod-reload-elsewhere\n${config(SLOW.replace("default_threshold_ms: 20", "default_threshold_ms: 30"))}`,
      );
      d.proc.kill("SIGHUP");
      const second = await waitFor(() => logLines(d.log()).filter((l) => l.msg === "config reloaded")[1], 5000);
      expect(second).toMatchObject({ kept: [], changed: ["slow"], added: [], removed: ["fast"] });
      libc.getppid();
      await Bun.sleep(500);
      expect(bundles(d.batches).length, "the changed rule kept its cooldown").toBe(2);
      expect(d.proc.exitCode).toBeNull();
    } finally {
      d.proc.kill("SIGTERM");
      expect(await d.proc.exited).toBe(0);
    }
  });
});
