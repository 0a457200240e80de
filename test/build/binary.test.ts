// The compiled binary: self-contained, and deaf to files in its working directory.
import { describe, expect, test } from "bun:test";
import { existsSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AOD, isRoot, needsBinary, runAod, skipReason, tempDir } from "../helpers";

const LIBS = ["libbpf.so.1", "libelf.so.1", "libz.so.1", "libzstd.so.1"];
const LIBDIR = "/usr/lib/x86_64-linux-gnu";

describe("dist/aod", () => {
  test("--version is fast and plain", () => {
    if (needsBinary()) return;
    const r = runAod(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+\+\w+$/);
  });

  test("runs with the host's libbpf, libelf, libz and libzstd hidden", () => {
    if (needsBinary()) return;
    const hostLibs = LIBS.map((l) => join(LIBDIR, l))
      .filter(existsSync)
      .map((p) => realpathSync(p));
    if (
      skipReason({
        "needs root for unshare -m and bind mounts": !isRoot,
        "unshare not installed": !Bun.which("unshare"),
      })
    )
      return;
    // Bind /dev/null over the real files the sonames point to, in a private mount namespace.
    const script = [
      ...hostLibs.map((p) => `mount --bind /dev/null ${p}`),
      ...hostLibs.map((p) => `test ! -s ${p}`),
      `exec ${AOD} check --json`,
    ].join(" && ");
    const r = Bun.spawnSync(["unshare", "-m", "--propagation", "private", "sh", "-c", script], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, AOD_LOG_LEVEL: "warn" },
    });
    const out = r.stdout.toString();
    expect(r.stderr.toString()).not.toContain("error while loading");
    const checks = JSON.parse(out).checks as { name: string; status: string; detail: string }[];
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName["libbpf (embedded)"]!.status).toBe("ok");
    expect(byName["libbpf (embedded)"]!.detail).toMatch(/^v1\./);
    expect(byName["libzstd (embedded)"]!.status).toBe("ok");
    expect(byName["libzstd (embedded)"]!.detail).toMatch(/^1\.\d+\.\d+$/);
    expect(byName.BPF!.status).toBe("ok");
  });

  test("ignores .env and bunfig.toml (with a preload) in its working directory", () => {
    if (needsBinary()) return;
    const cwd = tempDir();
    const marker = join(cwd, "PRELOAD_RAN");
    writeFileSync(join(cwd, "preload.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "pwned");\n`);
    writeFileSync(join(cwd, "bunfig.toml"), `preload = ["./preload.ts"]\n[run]\npreload = ["./preload.ts"]\n`);
    writeFileSync(join(cwd, ".env"), "AOD_CONFIG=/nonexistent/from-dotenv.yaml\nAOD_LOG_LEVEL=debug\n");
    for (const args of [["--version"], ["config", "show", "--json"]]) {
      const r = runAod(args, { cwd, env: { AOD_CONFIG: "" } });
      expect(r.code).toBe(0);
      expect(r.stderr).not.toContain("from-dotenv");
    }
    expect(existsSync(marker)).toBe(false);
  });

  test("bad usage exits 2 with a message, unknown command too", () => {
    if (needsBinary()) return;
    const r = runAod(["config", "validate", "/nonexistent.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no such file");
    const u = runAod(["frobnicate"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("Unknown command");
  });

  test("--help lists commands and teaches with examples", () => {
    if (needsBinary()) return;
    const r = runAod(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("check");
    expect(r.stdout).toContain("config");
    const c = runAod(["config", "validate", "--help"]);
    expect(c.stdout).toContain("Examples:");
  });
});
