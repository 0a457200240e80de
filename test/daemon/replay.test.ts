import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseEventLine, parseEventLines } from "../../src/daemon/event-lines";
import { needsBinary, runAod, tempDir } from "../helpers";

const T0 = 1764000000000000000n;
const line = (o: object) =>
  JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? `__${v}` : v)).replace(/"__(\d+)"/g, "$1");

describe("event line parsing", () => {
  test("integers are read exactly", () => {
    const { line: l } = parseEventLine(
      '{"time_ns":1764000000123456789,"command":"SMB2_READ","latency_ms":1.5,"mid":18446744073709551615}',
    );
    expect(l.time_ns).toBe(1764000000123456789n);
    expect(l.mid).toBe(18446744073709551615n);
  });
  test("tool follows from the fields; time defaults to arrival order 1 ms apart", () => {
    const p = parseEventLines(
      '{"command":"SMB2_READ","latency_ms":3}\n{"command":"SMB2_CREATE","errno":"EACCES"}\n',
      5_000_000n,
    );
    expect(p.lines.map((l) => [l.tool, l.time_ns])).toEqual([
      ["smbslower", 5_000_000n],
      ["smbiosnoop", 6_000_000n],
    ]);
  });
  test("malformed lines are reported with their line numbers", () => {
    const p = parseEventLines(
      '{"command":"SMB2_READ","latency_ms":3}\n\n{"command":"SMB2_RAED","latency_ms":3}\n{"command":"SMB2_READ"}\n{"command":"SMB2_READ","errno":"EWHAT"}\n',
      0n,
    );
    expect(p.errors.map((e) => e.line)).toEqual([3, 4, 5]);
    expect(p.errors[0]!.message).toContain("SMB2_RAED");
  });
});

describe("aod replay (binary)", () => {
  const config = (dir: string) => {
    const f = join(dir, "c.yaml");
    writeFileSync(
      f,
      `watch_interval_sec: 1\nguardian:\n  anomalies:\n    slow:\n      type: Latency\n      acceptable_count: 3\n      default_threshold_ms: 20\n      cooldown_sec: 10\n      actions: [mounts]\n    err:\n      type: Error\n      mode: trackonly\n      track_codes: [EACCES]\n      acceptable_count: 2\n      actions: []\n`,
    );
    return f;
  };

  test("detects on recorded times, honours cooldown, writes one bundle per anomaly", () => {
    if (needsBinary()) return;
    const dir = tempDir();
    const events = [
      ...[0, 1, 2].map((i) => ({
        time_ns: T0 + BigInt(i) * 100_000_000n,
        command: "SMB2_READ",
        latency_ms: 30 + i,
        pid: 7,
        comm: "dd",
        share: "\\\\srv\\share",
      })),
      ...[3, 4, 5, 6].map((i) => ({ time_ns: T0 + BigInt(i) * 100_000_000n, command: "SMB2_READ", latency_ms: 40 })), // during cooldown
      { time_ns: T0 + 20_000_000_000n, command: "SMB2_WRITE", latency_ms: 5 }, // fast: nothing
      ...[0, 1].map((i) => ({
        time_ns: T0 + 30_000_000_000n + BigInt(i),
        command: "SMB2_CREATE",
        errno: "EACCES",
        status: "STATUS_ACCESS_DENIED",
      })),
      { time_ns: T0 + 31_000_000_000n, command: "SMB2_CREATE", errno: "ENOENT" }, // untracked
    ];
    const rec = join(dir, "events.jsonl");
    writeFileSync(rec, `${events.map(line).join("\n")}\nnot json\n`);
    const out = join(dir, "out");
    const r = runAod(["replay", rec, "--config", config(dir), "--output", out, "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("events.jsonl:12: not JSON");
    const results = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(results.map((x) => x.type).sort()).toEqual(["error", "latency"]);
    const lat = results.find((x) => x.type === "latency");
    expect(lat.detected_at).toBe("2025-11-24T16:00:00.200Z");
    expect(lat.count).toBe(3);
    expect(lat.repeats).toEqual({ detections: 1, events: 4 });
    expect(readdirSync(join(out, "batches")).length).toBe(2);
    const show = runAod(["bundles", "show", lat.bundle, "--json"]);
    const b = JSON.parse(show.stdout);
    expect(b.members.map((m: { name: string }) => m.name).sort()).toEqual([
      "anomaly.json",
      "manifest.json",
      "mounts.log",
    ]);
    expect(b.anomaly.triggers[0]).toMatchObject({
      command: "SMB2_READ",
      latency_ms: 32,
      pid: 7,
      comm: "dd",
      share: "\\\\srv\\share",
    });
    expect(b.anomaly.triggers[0].time_ns).toBe(Number(T0 + 200_000_000n)); // JSON number; exact in the file
    expect(b.anomaly.thresholds.threshold_ms.SMB2_READ).toBe(20);
    expect(b.anomaly.config.watch_interval_sec).toBe(1);
  });

  test("--no-actions writes anomaly.json alone; --strict refuses malformed input", () => {
    if (needsBinary()) return;
    const dir = tempDir();
    const rec = join(dir, "e.jsonl");
    writeFileSync(rec, `${line({ command: "SMB2_READ", latency_ms: 2000 })}\n`);
    const r = runAod(["replay", rec, "--config", config(dir), "--output", join(dir, "o"), "--no-actions", "--json"]);
    expect(r.code).toBe(0);
    const b = JSON.parse(runAod(["bundles", "show", JSON.parse(r.stdout).bundle, "--json"]).stdout);
    expect(b.members.map((m: { name: string }) => m.name)).toEqual(["anomaly.json", "manifest.json"]);
    writeFileSync(rec, `garbage\n${line({ command: "SMB2_READ", latency_ms: 2000 })}\n`);
    const s = runAod(["replay", rec, "--config", config(dir), "--output", join(dir, "s"), "--strict"]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("e.jsonl:1:");
  });

  test("a missing recording is a clear error, exit 2", () => {
    if (needsBinary()) return;
    const r = runAod(["replay", "/nonexistent.jsonl", "--output", tempDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no such file");
  });
});
