// The systemd unit lets metrics through its sandbox, and only what they need:
// a TCP listen address adds its address family and IPAddressAllow (localhost,
// or any for a non-loopback address), a unix socket or textfile outside
// /run/aod its directory as writable; without metrics the unit is unchanged.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { skipReason, tempDir } from "../helpers";
import { addedLines, unitFor } from "../install/unit-for";

const base = unitFor("");

function security(u: string): number {
  const f = join(tempDir(), "aod.service");
  writeFileSync(f, u);
  const r = Bun.spawnSync(["systemd-analyze", "security", "--offline=true", f], { stdout: "pipe", stderr: "pipe" });
  return Number(/Overall exposure level for aod\.service: ([\d.]+)/.exec(r.stdout.toString())?.[1]);
}
function verify(u: string): string {
  const f = join(tempDir(), "aod.service");
  writeFileSync(f, u);
  const r = Bun.spawnSync(["systemd-analyze", "verify", "--man=no", f], { stderr: "pipe" });
  return r.stderr
    .toString()
    .split("\n")
    .filter((l) => l && !l.includes("/bin/true"))
    .join("\n");
}

describe("unit with metrics", () => {
  test("without metrics: no address family, IPAddressAllow or path added", () => {
    expect(base).toContain("IPAddressDeny=any\n");
    expect(base).not.toContain("IPAddressAllow");
    expect(base).toContain("RestrictAddressFamilies=AF_UNIX AF_NETLINK\n");
  });

  test("a loopback port: AF_INET and IPAddressAllow=localhost, nothing else", () => {
    const u = unitFor("metrics:\n  listen: 127.0.0.1:9469\n");
    expect(addedLines(u)).toEqual(["IPAddressAllow=localhost", "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET"]);
    expect(unitFor('metrics:\n  listen: "[::1]:9469"\n')).toContain(
      "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET6\n",
    );
    expect(unitFor("metrics:\n  listen: localhost:9469\n")).toContain("AF_NETLINK AF_INET AF_INET6\n");
  });

  test("a non-loopback port: IPAddressAllow=any, with how to narrow it", () => {
    const u = unitFor("metrics:\n  listen: 0.0.0.0:9469\n");
    expect(addedLines(u)).toEqual(["IPAddressAllow=any", "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET"]);
    expect(u).toContain("# systemctl edit aod: IPAddressAllow= (empty: reset) then IPAddressAllow=<your Prometheus>.");
  });

  test("a unix socket in /run/aod needs nothing; elsewhere, and the textfile, their directories writable", () => {
    expect(unitFor("metrics:\n  listen: /run/aod/metrics.sock\n")).toBe(base);
    const u = unitFor(
      "metrics:\n  listen: /run/aod-metrics/m.sock\n  textfile:\n    path: /var/lib/node_exporter/textfile_collector/aod.prom\n",
    );
    expect(addedLines(u)).toEqual(["ReadWritePaths=-/run/aod-metrics -/var/lib/node_exporter/textfile_collector"]);
  });

  test("systemd-analyze verifies every variant, and security stays OK", () => {
    if (skipReason({ "systemd-analyze not installed": !Bun.which("systemd-analyze") })) return;
    const variants = {
      none: "",
      loopback: "metrics:\n  listen: 127.0.0.1:9469\n",
      any: "metrics:\n  listen: 0.0.0.0:9469\n  textfile:\n    path: /var/lib/node_exporter/aod.prom\n",
      unix: "metrics:\n  listen: /run/aod/metrics.sock\n",
    };
    const scores: Record<string, number> = {};
    for (const [name, yaml] of Object.entries(variants)) {
      const u = unitFor(yaml);
      expect(verify(u)).toBe("");
      scores[name] = security(u);
      expect(scores[name]).toBeLessThan(6);
    }
    console.log(`systemd-analyze security exposure: ${JSON.stringify(scores)}`);
  });
});
