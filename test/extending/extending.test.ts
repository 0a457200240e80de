// docs/extending.md's examples, compiled and run: a new anomaly type
// registered through the public spec API goes through config validation,
// kernel filters and replay's detection pipeline like the built-in ones.
import { describe, expect, test } from "bun:test";
import { parseConfigTextWith } from "../../src/config/load";
import { ConfigError } from "../../src/config/problems";
import { batchesOf, parseEventLines } from "../../src/daemon/event-lines";
import { ANOMALY_TYPES, DetectorSet } from "../../src/detect/types";
import { REGISTRY } from "../../src/registry";
import { burst } from "./burst-type";

const types = [...ANOMALY_TYPES, burst];
const registry = { ...REGISTRY, anomalyTypes: types };
const CONFIG = `watch_interval_sec: 5
guardian:
  anomalies:
    creates:
      type: Burst
      command: SMB2_CREATE
      acceptable_count: 3
`;

describe("docs/extending.md: a new anomaly type", () => {
  test("its keys are validated, with a suggestion for a typo", () => {
    const c = parseConfigTextWith(registry, CONFIG, "t.yaml");
    expect(c.rules).toEqual([
      expect.objectContaining({ name: "creates", type: "burst", tool: "smbiosnoop", command: 5 }),
    ]);
    expect(() => parseConfigTextWith(registry, CONFIG.replace("SMB2_CREATE", "SMB2_CRATE"), "t.yaml")).toThrow(
      /unknown SMB2 command "SMB2_CRATE" — did you mean SMB2_CREATE\?/,
    );
    expect(() => parseConfigTextWith(registry, `${CONFIG}      colour: red\n`, "t.yaml")).toThrow(ConfigError);
  });
  test("without its row, the type does not exist", () => {
    expect(() => parseConfigTextWith(REGISTRY, CONFIG, "t.yaml")).toThrow(/unknown anomaly type "Burst"/);
  });
  test("recorded events go through its detector as through the built-in ones", () => {
    const c = parseConfigTextWith(registry, CONFIG, "t.yaml");
    const lines = [
      { command: "SMB2_CREATE", errno: "ENOENT" },
      { command: "SMB2_READ", errno: "EIO" },
      { command: "SMB2_CREATE", errno: "EACCES" },
      { command: "SMB2_CREATE", errno: "ENOENT" },
    ].map((o) => JSON.stringify(o));
    const parsed = parseEventLines(lines.join("\n"), 1_764_000_000_000_000_000n);
    expect(parsed.errors).toEqual([]);
    const set = new DetectorSet(
      c,
      { describe: (_b, i) => parsed.lines[i]!, wallNs: (t) => BigInt(Math.round(t)) },
      types,
    );
    const fired = [...batchesOf(parsed)].flatMap(({ batch }) => set.observe(batch));
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ name: "creates", type: "burst", count: 3 });
    expect(fired[0]!.reason).toBe("3 failures of one command within 5 s");
    expect(burst.thresholds(fired[0]!.rule as never)).toEqual({ command: "SMB2_CREATE", acceptable_count: 3 });
  });
});
