import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runActions } from "../../src/actions/run";
import { parseConfigText } from "../../src/registry";
import { tempDir } from "../helpers";

function config(extra: string) {
  return parseConfigText(`collection:\n  action_timeout_sec: 1\n  action_output_cap_mb: 0.001\n${extra}`, "t");
}

describe("actions", () => {
  test("a custom argv action runs without a shell", async () => {
    const c = config(`custom_actions:\n  - name: echo\n    command: [echo, "$HOME; rm -rf /"]\n`);
    const [r] = await runActions(["echo"], c, Date.now());
    expect(r!.status).toBe("ok");
    expect(new TextDecoder().decode(r!.data)).toBe("$HOME; rm -rf /\n");
    expect(r!.file).toBe("echo.log");
  });
  test("a file action reads the file, capped and marked truncated", async () => {
    const f = join(tempDir(), "big.txt");
    writeFileSync(f, "x".repeat(5000));
    const c = config(`custom_actions:\n  - name: big\n    file: ${f}\n`);
    const [r] = await runActions(["big"], c, Date.now());
    expect(r!.bytes).toBe(Math.floor(0.001 * 1024 * 1024));
    expect(r!.truncated).toBe(true);
  });
  test("a command's output beyond the cap is cut and marked", async () => {
    const c = config(`custom_actions:\n  - name: yes\n    command: [head, -c, "100000", /dev/zero]\n`);
    const [r] = await runActions(["yes"], c, Date.now());
    expect(r!.truncated).toBe(true);
    expect(r!.bytes).toBe(1048);
    expect(r!.status).toBe("ok");
  });
  test("a timed-out action is recorded and does not stop the others", async () => {
    const c = config(
      `custom_actions:\n  - name: sleepy\n    command: [sleep, "30"]\n    timeout_sec: 0.3\n  - name: quick\n    command: [echo, hi]\n`,
    );
    const t0 = performance.now();
    const [slow, quick] = await runActions(["sleepy", "quick"], c, Date.now());
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(slow!.status).toBe("timeout");
    expect(slow!.error).toContain("timed out after 0.3 s");
    expect(quick!.status).toBe("ok");
  });
  test("a failing action records its exit status and stderr", async () => {
    const c = config(
      `custom_actions:\n  - name: bad\n    command: [ls, /nonexistent-dir]\n  - name: missing\n    command: [no-such-binary-aod]\n`,
    );
    const [bad, missing] = await runActions(["bad", "missing"], c, Date.now());
    expect(bad!.status).toBe("failed");
    expect(bad!.exit_status).not.toBe(0);
    expect(new TextDecoder().decode(bad!.data)).toContain("--- stderr ---");
    expect(missing!.exit_status).toBe(127);
  });
  test("built-in mounts reads /proc/mounts under the prototype's file name", async () => {
    const [r] = await runActions(["mounts"], config(""), Date.now());
    expect(r!.file).toBe("mounts.log");
    expect(new TextDecoder().decode(r!.data)).toContain(" / ");
  });
  test("debugdata without cifs is recorded as failed, not thrown", async () => {
    const [r] = await runActions(["debugdata"], config(""), Date.now());
    expect(r!.file).toBe("debug_data.log");
    if (!require("node:fs").existsSync("/proc/fs/cifs/DebugData")) expect(r!.status).toBe("failed");
  });
});
