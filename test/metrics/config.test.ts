// The `metrics:` section: off by default, every problem named with its key
// path and what is allowed, and what is allowed but worth a warning.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG_TEXT } from "../../src/config/load";
import { ConfigError } from "../../src/config/problems";
import { fileShape } from "../../src/config/validate";
import { parseListen } from "../../src/metrics/listen";
import { parseConfigText } from "../../src/registry";
import { tempDir } from "../helpers";

function problems(yaml: string): string[] {
  try {
    parseConfigText(yaml, "t.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.line ?? "-"}:${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error("expected the config to be rejected");
}

describe("metrics config", () => {
  test("off by default, and with an empty section", () => {
    expect(parseConfigText(DEFAULT_CONFIG_TEXT, "d").metrics).toBeUndefined();
    expect(parseConfigText("metrics:\n", "t").metrics).toBeUndefined();
    expect(fileShape(parseConfigText("", "t"))).not.toHaveProperty("metrics");
  });

  test("defaults: max_shares 64, textfile interval 15 s", () => {
    const dir = tempDir();
    const c = parseConfigText(`metrics:\n  listen: 127.0.0.1:9469\n  textfile:\n    path: ${dir}/aod.prom\n`, "t");
    expect(c.metrics).toEqual({
      listen: "127.0.0.1:9469",
      max_shares: 64,
      textfile: { path: `${dir}/aod.prom`, interval_sec: 15 },
    });
    expect(c.warnings).toEqual([]);
  });

  test("every problem with its key path and what is allowed", () => {
    expect(problems("metrics:\n  max_shares: 10\n")).toEqual([
      '2:metrics: nothing to serve: give "listen" (host:port or a unix socket path), "textfile" ({path, interval_sec}), or both; without a metrics section metrics are off',
    ]);
    const p = problems(
      "metrics:\n  listen: 9469\n  max_shares: 0\n  textfile:\n    path: aod.prom\n    interval_sec: 0\n  lisen: x\n",
    );
    expect(p).toEqual([
      "2:metrics.listen: expected string, found number 9469",
      "3:metrics.max_shares: expected a number >=1, found number 0",
      '5:metrics.textfile.path: expected an absolute path, found "aod.prom"',
      "6:metrics.textfile.interval_sec: expected a number >=1, found number 0",
      '7:metrics.lisen: unknown key "lisen" — did you mean listen? (allowed here: listen, max_shares, textfile)',
    ]);
    expect(problems("metrics:\n  listen: host.example:9469\n")).toEqual([
      '2:metrics.listen: "host.example" is not an IP address: give one (aod resolves no host names but localhost), found "host.example:9469"',
    ]);
    expect(problems("metrics:\n  listen: ':9469'\n")[0]).toContain("give the address to listen on explicitly");
    expect(problems("metrics:\n  textfile:\n    path: /var/lib/node_exporter/aod.txt\n")).toEqual([
      `3:metrics.textfile.path: node_exporter's textfile collector reads only files named *.prom, found "/var/lib/node_exporter/aod.txt"`,
    ]);
  });

  test("allowed with a warning: a non-loopback address, a socket under /tmp, a textfile directory not there", () => {
    const any = parseConfigText("metrics:\n  listen: 0.0.0.0:9469\n", "t");
    expect(any.warnings).toEqual([
      "metrics.listen: 0.0.0.0:9469 is not a loopback address: /metrics (share names, servers, error counts) is plain HTTP without authentication, open to whoever reaches any interface of this host",
    ]);
    expect(parseConfigText("metrics:\n  listen: 10.1.2.3:9469\n", "t").warnings[0]).toContain(
      "open to whoever reaches that address",
    );
    expect(parseConfigText("metrics:\n  listen: /tmp/aod.sock\n", "t").warnings[0]).toContain("PrivateTmp");
    const missing = parseConfigText("metrics:\n  textfile:\n    path: /nonexistent-aod/aod.prom\n", "t");
    expect(missing.warnings[0]).toContain("/nonexistent-aod does not exist");
    for (const ok of ["127.0.0.1:9469", "localhost:9469", "[::1]:9469", "/run/aod/metrics.sock"])
      expect(parseConfigText(`metrics:\n  listen: "${ok}"\n`, "t").warnings).toEqual([]);
  });

  test("a textfile path whose directory is a file is a problem", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "f"), "");
    mkdirSync(join(dir, "d"));
    expect(problems(`metrics:\n  textfile:\n    path: ${dir}/f/aod.prom\n`)[0]).toContain(
      `${dir}/f is not a directory`,
    );
    expect(parseConfigText(`metrics:\n  textfile:\n    path: ${dir}/d/aod.prom\n`, "t").warnings).toEqual([]);
  });
});

describe("metrics.listen", () => {
  const ok = (s: string) => {
    const r = parseListen(s);
    if ("error" in r) throw new Error(r.error);
    return r.listen;
  };
  test("TCP addresses: loopback, every interface, families", () => {
    expect(ok("127.0.0.1:9469")).toEqual({
      kind: "tcp",
      host: "127.0.0.1",
      port: 9469,
      loopback: true,
      any: false,
      families: ["AF_INET"],
    });
    expect(ok("[::1]:1")).toMatchObject({ host: "::1", loopback: true, families: ["AF_INET6"] });
    expect(ok("[::]:9469")).toMatchObject({ loopback: false, any: true });
    expect(ok("0.0.0.0:9469")).toMatchObject({ loopback: false, any: true });
    expect(ok("localhost:9469")).toMatchObject({ loopback: true, families: ["AF_INET", "AF_INET6"] });
    expect(ok("192.168.1.5:65535")).toMatchObject({ loopback: false, any: false });
  });
  test("unix sockets", () => {
    expect(ok("/run/aod/metrics.sock")).toEqual({ kind: "unix", path: "/run/aod/metrics.sock" });
    expect(parseListen(`/${"x".repeat(120)}`)).toHaveProperty("error");
  });
  test("what is not an address", () => {
    for (const bad of [
      "127.0.0.1",
      "127.0.0.1:0",
      "127.0.0.1:70000",
      "::1:9469",
      "[127.0.0.1]:9469",
      "relative.sock",
      "/run/",
    ])
      expect(parseListen(bad)).toHaveProperty("error");
  });
});
