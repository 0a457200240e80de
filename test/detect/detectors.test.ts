import { describe, expect, test } from "bun:test";
import { DetectorSet } from "../../src/detect/types";
import { SlidingWindow } from "../../src/detect/window";
import { EventBatch, type EventLine } from "../../src/format/event";
import { smb2CommandId } from "../../src/format/smb2-commands";
import { parseConfigText } from "../../src/registry";
import { smberrKind } from "../../src/tools/smberr";
import { smbslowerKind } from "../../src/tools/smbslower";

const TOOL_SMBERR = smberrKind.id;
const TOOL_SMBSLOWER = smbslowerKind.id;

type Ev = { t: number; cmd?: string; ms?: number; errno?: number };
const MS = 1e6;

function batchOf(events: Ev[]): EventBatch {
  const b = new EventBatch(Math.max(1, events.length));
  for (const e of events) {
    const i = b.count++;
    b.timeNs[i] = e.t;
    b.command[i] = smb2CommandId(e.cmd ?? "SMB2_READ")!;
    if (e.errno !== undefined) {
      b.tool[i] = TOOL_SMBERR;
      b.rc[i] = -e.errno;
    } else {
      b.tool[i] = TOOL_SMBSLOWER;
      b.latencyNs[i] = (e.ms ?? 0) * MS;
    }
  }
  return b;
}

function detectors(yaml: string) {
  const config = parseConfigText(yaml, "t");
  return new DetectorSet(config, {
    describe: (b, i): EventLine => ({
      time_ns: BigInt(b.timeNs[i]!),
      tool: "smbslower",
      command: String(b.command[i]),
      latency_ms: b.latencyNs[i]! / MS,
    }),
    wallNs: (t) => BigInt(t),
  });
}

const latencyCfg = (extra = "") => `watch_interval_sec: 1
guardian:
  anomalies:
    slow:
      type: Latency
      acceptable_count: 3
      default_threshold_ms: 20
      track_commands: [{command: SMB2_WRITE, threshold: 50}]
      exclude_commands: [SMB2_CLOSE]
      cooldown_sec: 0
${extra}`;

describe("sliding window", () => {
  test("counts events in (t - window, t]", () => {
    const w = new SlidingWindow(1000);
    expect(w.add(0)).toBe(1);
    expect(w.add(999)).toBe(2);
    expect(w.add(1000)).toBe(2); // 0 falls out exactly at the edge
    expect(w.add(2500)).toBe(1);
  });
  test("grows past its initial capacity", () => {
    const w = new SlidingWindow(1e9, 2);
    for (let i = 0; i < 100; i++) w.add(i);
    expect(w.count).toBe(100);
  });
});

describe("latency detector", () => {
  test("fires at exactly acceptable_count events at or above the threshold", () => {
    const d = detectors(latencyCfg());
    expect(
      d.observe(
        batchOf([
          { t: 0, ms: 20 },
          { t: 1, ms: 25 },
        ]),
      ).length,
    ).toBe(0);
    const a = d.observe(batchOf([{ t: 2, ms: 21 }]));
    expect(a.length).toBe(1);
    expect(a[0]!.count).toBe(3);
    expect(a[0]!.triggers.map((t) => t.latency_ms)).toEqual([25, 21, 20]); // worst first
  });
  test("below the threshold does not count; per-command thresholds apply", () => {
    const d = detectors(latencyCfg());
    expect(
      d.observe(
        batchOf([
          { t: 0, ms: 19.9 },
          { t: 1, ms: 19 },
          { t: 2, cmd: "SMB2_WRITE", ms: 49 },
          { t: 3, cmd: "SMB2_WRITE", ms: 45 },
        ]),
      ).length,
    ).toBe(0);
    expect(
      d.observe(
        batchOf([
          { t: 4, cmd: "SMB2_WRITE", ms: 50 },
          { t: 5, ms: 20 },
          { t: 6, ms: 20 },
        ]),
      ).length,
    ).toBe(1);
  });
  test("events outside the window do not count (window edge)", () => {
    const d = detectors(latencyCfg());
    expect(
      d.observe(
        batchOf([
          { t: 0, ms: 30 },
          { t: 0.5e9, ms: 30 },
          { t: 1e9, ms: 30 },
        ]),
      ).length,
    ).toBe(0); // first expired at the edge
    expect(d.observe(batchOf([{ t: 1e9 + 1, ms: 30 }])).length).toBe(1);
  });
  test("one command at max_latency_ms fires on its own", () => {
    const d = detectors(latencyCfg("      max_latency_ms: 500\n"));
    const a = d.observe(batchOf([{ t: 0, ms: 500 }]));
    expect(a.length).toBe(1);
    expect(a[0]!.reason).toContain("max_latency_ms 500");
    expect(d.observe(batchOf([{ t: 1e9 * 10, ms: 499 }])).length).toBe(0);
  });
  test("excluded commands never count, even above the hard limit", () => {
    const d = detectors(latencyCfg());
    expect(d.observe(batchOf([0, 1, 2, 3].map((t) => ({ t, cmd: "SMB2_CLOSE", ms: 5000 })))).length).toBe(0);
  });
  test("error events do not feed the latency detector", () => {
    const d = detectors(latencyCfg());
    expect(d.observe(batchOf([0, 1, 2, 3].map((t) => ({ t, errno: 13 })))).length).toBe(0);
  });
});

describe("error detector", () => {
  const cfg = `watch_interval_sec: 2
guardian:
  anomalies:
    err:
      type: Error
      mode: trackonly
      track_codes: [EACCES, ENOSPC]
      acceptable_count: 2
      cooldown_sec: 0
`;
  test("counts only tracked errnos", () => {
    const d = detectors(cfg);
    expect(
      d.observe(
        batchOf([
          { t: 0, errno: 2 },
          { t: 1, errno: 5 },
          { t: 2, errno: 13 },
        ]),
      ).length,
    ).toBe(0);
    const a = d.observe(batchOf([{ t: 3, errno: 28 }]));
    expect(a.length).toBe(1);
    expect(a[0]!.type).toBe("error");
    expect(a[0]!.count).toBe(2);
  });
  test("latency events do not feed the error detector", () => {
    const d = detectors(cfg);
    expect(d.observe(batchOf([0, 1, 2].map((t) => ({ t, ms: 9999 })))).length).toBe(0);
  });
});

describe("cooldown", () => {
  test("repeats during the cooldown are counted into the open anomaly, not new ones", () => {
    const d = detectors(latencyCfg().replace("cooldown_sec: 0", "cooldown_sec: 10"));
    const first = d.observe(batchOf([0, 1, 2].map((t) => ({ t, ms: 30 }))));
    expect(first.length).toBe(1);
    // Two more full windows' worth during the cooldown: 6 events, 2 detections.
    expect(d.observe(batchOf([3, 4, 5, 6, 7, 8].map((t) => ({ t: t * 1e6, ms: 30 })))).length).toBe(0);
    expect(first[0]!.repeats).toEqual({ detections: 2, events: 6 });
    // After the cooldown, a new anomaly.
    const again = d.observe(batchOf([11e9, 11e9 + 1, 11e9 + 2].map((t) => ({ t, ms: 30 }))));
    expect(again.length).toBe(1);
    expect(again[0]!).not.toBe(first[0]);
  });
  test("anomalies of different names cool down independently", () => {
    const d = detectors(`watch_interval_sec: 1
guardian:
  anomalies:
    a: {type: Latency, acceptable_count: 1, cooldown_sec: 60}
    b: {type: Error, acceptable_count: 1, cooldown_sec: 60}
`);
    expect(d.observe(batchOf([{ t: 0, ms: 50 }])).map((a) => a.name)).toEqual(["a"]);
    expect(d.observe(batchOf([{ t: 1, errno: 13 }])).map((a) => a.name)).toEqual(["b"]);
    expect(
      d.observe(
        batchOf([
          { t: 2, ms: 50 },
          { t: 3, errno: 13 },
        ]),
      ).length,
    ).toBe(0);
  });
});
