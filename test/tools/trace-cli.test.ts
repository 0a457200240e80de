// `aod trace` argument handling and its no-cifs behaviour, run from the sources
// (the same code the binary embeds).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseCommands } from "../../src/cli/trace";
import { cifsLoaded } from "../../src/host/modules";
import { isRoot, ROOT, skipReason } from "../helpers";

const BUN = join(ROOT, "node_modules/.bin/bun");
function trace(...args: string[]) {
  const r = Bun.spawnSync([BUN, join(ROOT, "src/main.ts"), "trace", ...args], {
    cwd: ROOT,
    env: { ...process.env, AOD_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe("aod trace", () => {
  test("--command accepts names with or without SMB2_, rejects others with the list", () => {
    expect(parseCommands("SMB2_WRITE,read")).toEqual([9, 8]);
    expect(parseCommands(undefined)).toBeUndefined();
    expect(() => parseCommands("SMB2_WRTIE")).toThrow(
      /unknown SMB2 command "SMB2_WRTIE" — did you mean SMB2_WRITE\? \(allowed: SMB2_NEGOTIATE/,
    );
  });

  test("usage errors exit 2", () => {
    expect(trace("--interval", "5").code).toBe(2);
    const r = trace("--min-ms", "-3");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--min-ms expects a number ≥ 0");
    expect(trace("--command", "NOPE").code).toBe(2);
  });

  test("--no-wait without cifs exits 1 and says why", () => {
    if (skipReason({ "needs root": !isRoot, "cifs is loaded here": cifsLoaded() })) return;
    const r = trace("--no-wait");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cifs module is not loaded");
    expect(r.stdout).toBe("");
  });

  test("waits for cifs, then --duration ends it with a summary (on stderr under --json)", () => {
    if (skipReason({ "needs root": !isRoot, "cifs is loaded here": cifsLoaded() })) return;
    const r = trace("--duration", "1", "--json", "--hist");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(""); // only event lines go to stdout under --json
    expect(r.stderr).toContain("0 events (0 latency, 0 errors), 0 lost");
  });
});
