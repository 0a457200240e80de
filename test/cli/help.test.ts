// Help listings: hidden commands (a leading "_", e.g. `aod _loadgen` for tests
// and benchmarks) stay out of them. From the sources, and from dist/aod when
// it is built.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { needsBinary, ROOT, runAod } from "../helpers";

const BUN = join(ROOT, "node_modules/.bin/bun");
function fromSources(args: string[]) {
  const r = Bun.spawnSync([BUN, join(ROOT, "src/main.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, AOD_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function expectHiddenLoadgen(run: (args: string[]) => { code: number | null; stdout: string }) {
  const top = run(["--help"]);
  expect(top.code).toBe(0);
  expect(top.stdout).toContain("trace");
  expect(top.stdout).not.toContain("_loadgen");
  const runHelp = run(["run", "--help"]);
  expect(runHelp.code).toBe(0);
  expect(runHelp.stdout).toContain("--config");
  expect(runHelp.stdout).not.toContain("--loadgen");
  // Hidden, not gone.
  const hidden = run(["_loadgen", "--help"]);
  expect(hidden.code).toBe(0);
  expect(hidden.stdout).toContain("--loadgen-pid");
}

describe("aod --help", () => {
  test("does not list _loadgen; aod run --help has no --loadgen (sources)", () => {
    expectHiddenLoadgen(fromSources);
  });

  test("does not list _loadgen; aod run --help has no --loadgen (dist/aod)", () => {
    if (needsBinary()) return;
    expectHiddenLoadgen((args) => runAod(args));
  });
});
