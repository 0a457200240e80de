import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG_TEXT } from "../../src/config/load";
import { ConfigError } from "../../src/config/problems";
import type { RuleBase } from "../../src/config/spec";
import { fileShape } from "../../src/config/validate";
import type { ErrorRule } from "../../src/detect/types/error";
import type { LatencyRule } from "../../src/detect/types/latency";
import { errnoNumber } from "../../src/format/errno-names";
import { smb2CommandId } from "../../src/format/smb2-commands";
import { loadConfig, parseConfigText } from "../../src/registry";
import { isRoot, SHARED, skipReason, tempDir } from "../helpers";

/** The rule, asserted to be of the type (its fields then typed). */
function asLatency(r: RuleBase | undefined): LatencyRule {
  expect(r?.type).toBe("latency");
  return r as LatencyRule;
}
function asError(r: RuleBase | undefined): ErrorRule {
  expect(r?.type).toBe("error");
  return r as ErrorRule;
}

function problems(yaml: string): string[] {
  try {
    parseConfigText(yaml, "t.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.line ?? "-"}:${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error("expected the config to be rejected");
}

const lat = (extra: string) => `guardian:\n  anomalies:\n    lat:\n      type: Latency\n${extra}`;
const err = (extra: string) => `guardian:\n  anomalies:\n    err:\n      type: Error\n${extra}`;

describe("config: the prototype's file", () => {
  const path = join(SHARED, "prototype/config.yaml");
  test("loads unchanged, with the prototype's semantics", () => {
    if (skipReason({ "../shared/prototype/config.yaml not present": !existsSync(path) })) return;
    const c = loadConfig(path);
    expect(c.watch_interval_sec).toBe(1);
    expect(c.aod_output_dir).toBe("/var/log/aod");
    expect(c.watcher.actions).toEqual(["dmesg", "journalctl", "debugdata", "stats"]);
    expect(c.cleanup.max_total_log_size_mb).toBe(0.5);
    expect(c.audit.enabled).toBe(true);
    const latency = asLatency(c.rules.find((r) => r.name === "latency"));
    // mode all: every command at 20 ms, SMB2_WRITE at its own 50 ms.
    expect(latency.thresholdsMs[smb2CommandId("SMB2_WRITE")!]).toBe(50);
    expect(latency.thresholdsMs[smb2CommandId("SMB2_READ")!]).toBe(20);
    expect(latency.thresholdsMs.every((t) => t !== null)).toBe(true);
    expect(latency.max_latency_ms).toBe(1000);
    expect(latency.cooldown_sec).toBe(60);
    const error = asError(c.rules.find((r) => r.name === "error"));
    expect(error.errnos).toEqual([5, 11, 13]);
    expect(error.tool).toBe("smbiosnoop");
  });
});

describe("config: defaults and the embedded default", () => {
  test("an empty file gets every default", () => {
    const c = parseConfigText("", "empty");
    expect(c.watch_interval_sec).toBe(5);
    expect(c.aod_output_dir).toBe("/var/log/aod");
    expect(c.cleanup).toEqual({ cleanup_interval_sec: 60, max_log_age_days: 2, max_total_log_size_mb: 200 });
    expect(c.collection.max_concurrent).toBe(4);
    expect(c.collection.lookback_sec).toBe(300);
    expect(c.collection.zstd_level).toBe(3);
    expect(c.collection.syslog_lines).toBe(100);
    expect(c.rules).toEqual([]);
  });
  test("anomaly defaults: mode all, threshold 10 ms, cooldown 60 s, hard limit 1000 ms", () => {
    const c = parseConfigText(lat("      acceptable_count: 3\n"), "t");
    const r = asLatency(c.rules[0]);
    expect(r.thresholdsMs.every((t) => t === 10)).toBe(true);
    expect(r.mode).toBe("all");
    expect(r.cooldown_sec).toBe(60);
    expect(r.max_latency_ms).toBe(1000);
  });
  test("the embedded default is valid and frozen", () => {
    const c = parseConfigText(DEFAULT_CONFIG_TEXT, "embedded");
    expect(c.rules.map((r) => `${r.type}:${r.tool}`).sort()).toEqual([
      "connection:smbconn",
      "error:nfserr",
      "error:smbiosnoop",
      "latency:nfsslower",
      "latency:smbslower",
    ]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.rules[0])).toBe(true);
    expect(() => Object.assign(c, { watch_interval_sec: 9 })).toThrow();
  });
  test("config show's shape loads back to the same config", () => {
    const c = parseConfigText(DEFAULT_CONFIG_TEXT, "embedded");
    const again = parseConfigText(JSON.stringify(fileShape(c)), "shown");
    expect(fileShape(again)).toEqual(fileShape(c));
  });
});

describe("config: modes", () => {
  test("trackonly: only the tracked commands, each at its threshold or the default", () => {
    const c = parseConfigText(
      lat(
        "      mode: trackonly\n      default_threshold_ms: 7\n      track_commands:\n        - command: SMB2_READ\n        - command: SMB2_WRITE\n          threshold: 40\n      exclude_commands: [SMB2_CLOSE]\n",
      ),
      "t",
    );
    const r = asLatency(c.rules[0]);
    expect(r.thresholdsMs.filter((t) => t !== null).length).toBe(2);
    expect(r.thresholdsMs[smb2CommandId("SMB2_READ")!]).toBe(7);
    expect(r.thresholdsMs[smb2CommandId("SMB2_WRITE")!]).toBe(40);
    expect(c.warnings.join()).toContain("trackonly ignores exclude_commands");
  });
  test("excludeonly: all but the excluded, at the default", () => {
    const c = parseConfigText(
      lat(
        "      mode: excludeonly\n      exclude_commands: [SMB2_CLOSE, SMB2_ECHO]\n      track_commands:\n        - command: SMB2_READ\n          threshold: 99\n",
      ),
      "t",
    );
    const r = asLatency(c.rules[0]);
    expect(r.thresholdsMs[smb2CommandId("SMB2_CLOSE")!]).toBeNull();
    expect(r.thresholdsMs[smb2CommandId("SMB2_READ")!]).toBe(10);
    expect(r.thresholdsMs.filter((t) => t !== null).length).toBe(18);
    expect(c.warnings.join()).toContain("excludeonly ignores track_commands");
  });
  test("errors: all but excluded, or only tracked", () => {
    const all = asError(parseConfigText(err("      exclude_codes: [ENOENT]\n"), "t").rules[0]);
    expect(all.errnos.includes(errnoNumber("ENOENT")!)).toBe(false);
    expect(all.errnos.includes(errnoNumber("EACCES")!)).toBe(true);
    const only = asError(
      parseConfigText(err("      mode: trackonly\n      track_codes: [ENOSPC, EIO]\n"), "t").rules[0],
    );
    expect(only.errnos).toEqual([5, 28]);
  });
  test("type and mode are case-insensitive; smberr is smbiosnoop", () => {
    const c = parseConfigText(
      err("      tool: smberr\n      mode: TrackOnly\n      track_codes: [EIO]\n").replace("Error", "ERROR"),
      "t",
    );
    expect(c.rules[0]!.tool).toBe("smbiosnoop");
    expect(c.rules[0]!.mode).toBe("trackonly");
  });
  test("an empty actions list is allowed; a duplicate only warns", () => {
    const c = parseConfigText(err("      mode: trackonly\n      track_codes: [EIO, EIO]\n      actions: []\n"), "t");
    expect(c.rules[0]!.actions).toEqual([]);
    expect(c.warnings.join()).toContain("listed twice");
  });
});

describe("config: bad input names the key, says what is allowed, suggests", () => {
  const cases: [string, string, RegExp][] = [
    [
      "YAML syntax error with line and column",
      "watcher:\n  actions: [dmesg\nguardian: {}\n",
      /^\d+:: YAML syntax error/,
    ],
    ["wrong type", "watch_interval_sec: fast\n", /watch_interval_sec: expected number, found "fast"/],
    ["negative threshold", lat("      default_threshold_ms: -5\n"), /lat\.default_threshold_ms: expected a number >=0/],
    [
      "threshold not a number",
      lat("      track_commands:\n        - command: SMB2_READ\n          threshold: slow\n"),
      /track_commands\[0\]\.threshold: expected number, found "slow"/,
    ],
    [
      "unknown command with suggestion",
      lat("      track_commands:\n        - command: SMB2_WRTE\n"),
      /track_commands\[0\]\.command: unknown SMB2 command "SMB2_WRTE" — did you mean SMB2_WRITE\?/,
    ],
    [
      "unknown errno with suggestion",
      err("      track_codes: [EACESS]\n"),
      /track_codes\[0\]: unknown errno name "EACESS" — did you mean EACCES\?/,
    ],
    [
      "unknown action",
      err("      actions: [dmseg]\n"),
      /err\.actions\[0\]: unknown action "dmseg" — did you mean dmesg\?/,
    ],
    ["unknown tool", lat("      tool: smbslowr\n"), /lat\.tool: unknown tool "smbslowr" — did you mean smbslower\?/],
    ["tool of the wrong type", lat("      tool: smbiosnoop\n"), /lat\.tool: tool "smbiosnoop" measures error/],
    [
      "unknown anomaly type",
      "guardian:\n  anomalies:\n    x:\n      type: Latancy\n",
      /x\.type: unknown anomaly type "Latancy" — did you mean latency\?/,
    ],
    [
      "a command both tracked and excluded",
      lat("      track_commands:\n        - command: SMB2_READ\n      exclude_commands: [SMB2_READ]\n"),
      /exclude_commands\[0\]: SMB2_READ is both tracked/,
    ],
    [
      "an errno both tracked and excluded",
      err("      track_codes: [EIO]\n      exclude_codes: [EIO]\n"),
      /exclude_codes\[0\]: EIO is both tracked/,
    ],
    ["a tracked set that ends up empty", lat("      mode: trackonly\n"), /lat: no SMB2 command is left to track/],
    ["an empty errno set", err("      mode: trackonly\n"), /err: no errno is left to track/],
    ["acceptable_count below 1", lat("      acceptable_count: 0\n"), /lat\.acceptable_count: expected a number >=1/],
    [
      "max_total_log_size_mb zero",
      "cleanup:\n  max_total_log_size_mb: 0\n",
      /cleanup\.max_total_log_size_mb: expected a number >0/,
    ],
    [
      "unknown key with suggestion",
      "cleanup:\n  max_log_age_day: 3\n",
      /cleanup\.max_log_age_day: unknown key "max_log_age_day" — did you mean max_log_age_days\?/,
    ],
    [
      "unknown top-level key",
      "watch_interval: 3\n",
      /unknown key "watch_interval" — did you mean watch_interval_sec\?/,
    ],
    ["unknown mode", lat("      mode: tracked\n"), /lat\.mode: unknown mode "tracked"/],
    [
      "a key of the other anomaly type",
      err("      default_threshold_ms: 5\n"),
      /err\.default_threshold_ms: unknown key/,
    ],
    [
      "custom action with both command and file",
      "custom_actions:\n  - name: x\n    command: [ls]\n    file: /etc/hosts\n",
      /custom_actions\[0\]: give exactly one of/,
    ],
    [
      "custom action shadowing a built-in",
      "custom_actions:\n  - name: dmesg\n    file: /etc/hosts\n",
      /custom_actions\[0\]\.name: "dmesg" is a built-in action/,
    ],
    ["relative output dir", "aod_output_dir: logs\n", /aod_output_dir: expected an absolute path/],
  ];
  for (const [what, yaml, pattern] of cases) {
    test(what, () => {
      const ps = problems(yaml);
      expect(ps.some((p) => pattern.test(p))).toBe(true);
    });
  }
  test("every problem is listed in one run, with line numbers", () => {
    const ps = problems(
      `watch_interval_sec: -1\nclenup: {}\n${lat("      acceptable_count: 0\n").replace("guardian:", "guardian:")}`,
    );
    expect(ps.length).toBe(3);
    expect(ps[0]).toStartWith("1:");
    expect(ps.some((p) => p.startsWith("2:clenup"))).toBe(true);
  });
  test("a custom action name may be used in actions lists", () => {
    const c = parseConfigText(
      "custom_actions:\n  - name: ss\n    command: [ss, -tin]\n    timeout_sec: 5\nwatcher:\n  actions: [ss, mounts]\n",
      "t",
    );
    expect(c.watcher.actions).toEqual(["ss", "mounts"]);
  });
});

describe("config: file locations and safety", () => {
  test("--config, then $AOD_CONFIG, then the embedded default", () => {
    const d = tempDir();
    const a = join(d, "a.yaml");
    const b = join(d, "b.yaml");
    writeFileSync(a, "watch_interval_sec: 2\n");
    writeFileSync(b, "watch_interval_sec: 3\n");
    expect(loadConfig(a, { AOD_CONFIG: b }).watch_interval_sec).toBe(2);
    expect(loadConfig(undefined, { AOD_CONFIG: b }).watch_interval_sec).toBe(3);
  });
  test("a missing file is a clear error with exit code 2", () => {
    try {
      loadConfig("/nonexistent/aod.yaml");
      throw new Error("not rejected");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      if (!(e instanceof ConfigError)) throw e;
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain("no such file");
    }
  });
  test("a config defining commands must not be writable by others (as root)", () => {
    if (skipReason({ "the ownership rule applies to root only": !isRoot })) return;
    const d = tempDir();
    const f = join(d, "cmd.yaml");
    writeFileSync(f, "custom_actions:\n  - name: ss\n    command: [ss]\n");
    chmodSync(f, 0o666);
    expect(() => loadConfig(f)).toThrow(/writable by everyone/);
    chmodSync(f, 0o600);
    expect(loadConfig(f).custom_actions[0]!.name).toBe("ss");
  });
});
