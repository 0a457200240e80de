import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG_TEXT } from "../../src/config/load";
import { configTextFor } from "../../src/install/steps";
import { unitText } from "../../src/install/unit";
import { parseConfigText } from "../../src/registry";
import { AOD, needsBinary, runAod, skipReason, tempDir } from "../helpers";

const config = parseConfigText(DEFAULT_CONFIG_TEXT, "default");

describe("systemd unit", () => {
  test("systemd-analyze verify accepts it", () => {
    if (
      skipReason({
        "systemd-analyze not installed": !Bun.which("systemd-analyze"),
        "dist/aod not built": !existsSync(AOD),
      })
    )
      return;
    const f = join(tempDir(), "aod.service");
    writeFileSync(f, unitText(config, "/etc/aod/config.yaml", AOD));
    const r = Bun.spawnSync(["systemd-analyze", "verify", "--man=no", f], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });
  test("restart policy, stop timeout covering collections, OOM score, hardening, output dir writable", () => {
    const u = unitText(config);
    for (const line of [
      "Restart=on-failure",
      "StartLimitBurst=5",
      "KillMode=mixed",
      `TimeoutStopSec=${10 + 15}`,
      "OOMScoreAdjust=500",
      "ProtectSystem=strict",
      "ReadWritePaths=/var/log/aod",
      "ProtectHome=read-only",
      "PrivateTmp=yes",
      "NoNewPrivileges=yes",
      "UMask=0077",
      "ProtectKernelTunables=yes",
      // The flight recorder's tracefs instance and cifs_verbose's knobs stay writable under it
      // (paths below the ones it lists itself: the VM's 10-service saw EROFS on those).
      "ReadWritePaths=-/sys/kernel/tracing/instances -/sys/kernel/debug/dynamic_debug -/proc/fs/cifs",
      "StateDirectory=aod",
    ])
      expect(u).toContain(line);
    expect(u).toMatch(/^CapabilityBoundingSet=.*CAP_BPF.*CAP_PERFMON.*CAP_SYS_ADMIN.*CAP_SYSLOG.*CAP_DAC_READ_SEARCH/m);
    expect(u).not.toContain("MemoryDenyWriteExecute=yes"); // the JIT and memfd-loaded libraries need W+X
  });
  test("systemd-analyze security --offline rates it (reported in README)", () => {
    if (skipReason({ "systemd-analyze not installed": !Bun.which("systemd-analyze") })) return;
    const f = join(tempDir(), "aod.service");
    writeFileSync(f, unitText(config, "/etc/aod/config.yaml", "/bin/true"));
    const r = Bun.spawnSync(["systemd-analyze", "security", "--offline=true", f], { stdout: "pipe", stderr: "pipe" });
    const m = /Overall exposure level for aod\.service: ([\d.]+)/.exec(r.stdout.toString());
    expect(m).not.toBeNull();
    console.log(`systemd-analyze security exposure: ${m![1]}`);
    expect(Number(m![1])).toBeLessThan(6);
  });
});

describe("aod install", () => {
  test("--output goes into a newly written config", () => {
    const t = configTextFor(undefined, "/data/aod");
    expect(parseConfigText(t, "t").aod_output_dir).toBe("/data/aod");
  });
  test("--dry-run prints every step and changes nothing", () => {
    if (needsBinary()) return;
    const hadConfig = existsSync("/etc/aod/config.yaml");
    const r = runAod(["install", "--dry-run", "--output", "/data/aod-test"]);
    const systemd = existsSync("/run/systemd/system");
    expect(r.code).toBe(systemd ? 0 : 2);
    expect(r.stdout).toContain("would write /etc/systemd/system/aod.service");
    expect(r.stdout).toContain("would systemctl enable aod.service");
    expect(r.stdout).toContain("Dry run: nothing was changed.");
    if (!hadConfig) expect(r.stdout).toContain("would write /etc/aod/config.yaml");
    expect(existsSync("/etc/aod/config.yaml")).toBe(hadConfig);
    if (!systemd) expect(r.stderr).toContain("systemd is not running");
  });
  test("without systemd, install and uninstall exit 2 and change nothing", () => {
    if (needsBinary() || skipReason({ "this host runs systemd": existsSync("/run/systemd/system") })) return;
    for (const cmd of ["install", "uninstall"]) {
      const r = runAod([cmd]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("systemd is not running");
    }
    expect(existsSync("/etc/systemd/system/aod.service")).toBe(false);
    expect(existsSync("/usr/local/bin/aod")).toBe(false);
  });
});
