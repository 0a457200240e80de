// Error rules by NT status and command: the lists compile (names, 0x codes,
// typos with suggestions), and recorded smbiosnoop lines count only when the
// errno, the status and the command all pass.
import { describe, expect, test } from "bun:test";
import type { Config } from "../../src/config/validate";
import { fileShape } from "../../src/config/validate";
import { batchesOf, parseEventLines } from "../../src/daemon/event-lines";
import { anomalyTypeOf, DetectorSet } from "../../src/detect/types";
import { parseConfigText } from "../../src/registry";

const config = (rule: string) =>
  parseConfigText(
    `watch_interval_sec: 5\nguardian:\n  anomalies:\n    e:\n      type: Error\n      acceptable_count: 2\n${rule}`,
    "t.yaml",
  );

function count(c: Config, events: object[]): number {
  const parsed = parseEventLines(events.map((e) => JSON.stringify(e)).join("\n"), 1_000_000_000n);
  expect(parsed.errors).toEqual([]);
  const set = new DetectorSet(c, { describe: (_b, i) => parsed.lines[i]!, wallNs: (t) => BigInt(Math.round(t)) });
  return [...batchesOf(parsed)].flatMap(({ batch }) => set.observe(batch)).length;
}
const denied = { command: "SMB2_CREATE", errno: "EACCES", status: "STATUS_ACCESS_DENIED" };

describe("Error rules: status and command lists", () => {
  test("names in any case and 0x codes compile; config show prints them by name", () => {
    const c = config(
      "      track_status: [status_access_denied, '0xC0000034']\n      exclude_commands: [smb2_write]\n",
    );
    expect(c.rules[0]).toMatchObject({
      status: { track: [0xc0000022, 0xc0000034], exclude: [] },
      commands: { exclude: [9] },
    });
    expect((fileShape(c).guardian as { anomalies: Record<string, unknown> }).anomalies.e).toMatchObject({
      track_status: ["STATUS_ACCESS_DENIED", "STATUS_OBJECT_NAME_NOT_FOUND"],
      exclude_commands: ["SMB2_WRITE"],
      track_codes: [],
      mode: "all",
    });
    expect(anomalyTypeOf(c.rules[0]!).thresholds(c.rules[0]!)).toMatchObject({
      track_status: ["STATUS_ACCESS_DENIED", "STATUS_OBJECT_NAME_NOT_FOUND"],
      exclude_commands: ["SMB2_WRITE"],
    });
    // The prototype's rules compile as before: no status or command constraint.
    expect(config("      mode: trackonly\n      track_codes: [EIO]\n").rules[0]).not.toHaveProperty("status");
  });

  test("typos are refused with a suggestion; a name in both lists is a problem", () => {
    expect(() => config("      track_status: [STATUS_ACCESS_DENIE]\n")).toThrow(
      /guardian\.anomalies\.e\.track_status\[0\]: unknown NT status "STATUS_ACCESS_DENIE" — did you mean STATUS_ACCESS_DENIED\?/,
    );
    expect(() => config("      track_commands: [SMB2_CRATE]\n")).toThrow(
      /track_commands\[0\]: unknown SMB2 command "SMB2_CRATE" — did you mean SMB2_CREATE\?/,
    );
    expect(() => config("      track_status: [STATUS_ACCESS_DENIED]\n      exclude_status: ['0xc0000022']\n")).toThrow(
      /exclude_status\[0\]: STATUS_ACCESS_DENIED is both tracked \(track_status\) and excluded/,
    );
  });

  test("an event counts when errno, status and command all pass", () => {
    const byStatus = config("      track_status: [STATUS_ACCESS_DENIED]\n      track_commands: [SMB2_CREATE]\n");
    expect(count(byStatus, [denied, denied])).toBe(1);
    // Another status, another command, or no status at all: not counted.
    const other = { ...denied, status: "STATUS_SHARING_VIOLATION" };
    const write = { ...denied, command: "SMB2_WRITE" };
    const noStatus = { command: "SMB2_CREATE", errno: "EACCES" };
    expect(count(byStatus, [denied, other, write, noStatus])).toBe(0);
    // Excluded statuses and commands never count; everything else does.
    const excl = config("      exclude_status: [STATUS_ACCESS_DENIED]\n      exclude_commands: [SMB2_READ]\n");
    expect(count(excl, [denied, { ...denied, command: "SMB2_READ", status: "STATUS_IO_TIMEOUT" }])).toBe(0);
    expect(count(excl, [noStatus, other])).toBe(1);
    // The errno lists still apply first (mode keeps its meaning for them).
    const errnoFirst = config(
      "      mode: trackonly\n      track_codes: [ENOENT]\n      track_status: [STATUS_ACCESS_DENIED]\n",
    );
    expect(count(errnoFirst, [denied, denied])).toBe(0);
  });

  test("a recorded status must be an NT status name or code", () => {
    const p = parseEventLines('{"command":"SMB2_CREATE","errno":"EACCES","status":"STATUS_NOPE"}', 0n);
    expect(p.errors[0]!.message).toContain('"status" must be an NT status name');
    const q = parseEventLines('{"command":"SMB2_CREATE","errno":"EACCES","status":"0xc0000022"}', 0n);
    expect(q.errors).toEqual([]);
  });
});
