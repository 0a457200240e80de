// The Connection type: its config keys and defaults, and detection over its own
// window, fed with recorded smbconn lines as `aod replay` feeds them.
import { describe, expect, test } from "bun:test";
import type { Config } from "../../src/config/validate";
import { fileShape } from "../../src/config/validate";
import { batchesOf, parseEventLines } from "../../src/daemon/event-lines";
import { anomalyTypeOf, DetectorSet } from "../../src/detect/types";
import { parseConfigText } from "../../src/registry";

const T0 = 1_764_000_000_000_000_000n;
const S = 1_000_000_000n;
const config = (extra = "") =>
  parseConfigText(
    `watch_interval_sec: 5\nguardian:\n  anomalies:\n    conn:\n      type: connection\n${extra}`,
    "t.yaml",
  );

function detect(c: Config, events: object[]) {
  const parsed = parseEventLines(
    events.map((e) => JSON.stringify(e, (_k, v) => (typeof v === "bigint" ? Number(v) : v))).join("\n"),
    T0,
  );
  expect(parsed.errors).toEqual([]);
  const set = new DetectorSet(c, { describe: (_b, i) => parsed.lines[i]!, wallNs: (t) => BigInt(Math.round(t)) });
  return [...batchesOf(parsed)].flatMap(({ batch }) => set.observe(batch));
}
const ev = (sec: number, conn_kind: string, extra: object = {}) => ({
  time_ns: (T0 + BigInt(sec) * S).toString(),
  tool: "smbconn",
  conn_kind,
  server: "127.0.0.1",
  ...extra,
});

describe("Connection: config", () => {
  test("defaults: every kind, the second event within 60 s, tool smbconn", () => {
    const c = config();
    expect(c.rules).toEqual([
      expect.objectContaining({
        name: "conn",
        type: "connection",
        tool: "smbconn",
        mode: "all",
        acceptable_count: 2,
        window_sec: 60,
        kinds: [0, 1, 2, 3, 4],
      }),
    ]);
    expect(anomalyTypeOf(c.rules[0]!).summary(c.rules[0]!, 5)).toBe(
      "conn (connection, reconnect/connect_failed/session_expired/credit_timeout/tcon_failed, ≥2 in 60s)",
    );
    expect((fileShape(c).guardian as { anomalies: Record<string, unknown> }).anomalies.conn).toMatchObject({
      type: "Connection",
      track_kinds: [],
      window_sec: 60,
    });
  });
  test("track_kinds and exclude_kinds follow mode, with suggestions for typos", () => {
    expect(config("      mode: trackonly\n      track_kinds: [reconnect, session_expired]\n").rules[0]).toMatchObject({
      kinds: [0, 2],
    });
    expect(config("      exclude_kinds: [credit_timeout]\n").rules[0]).toMatchObject({ kinds: [0, 1, 2, 4] });
    expect(() => config("      track_kinds: [reconect]\n      mode: trackonly\n")).toThrow(
      /guardian\.anomalies\.conn\.track_kinds\[0\]: unknown connection event kind "reconect" — did you mean reconnect\?/,
    );
    expect(() => config("      window_sec: 0\n")).toThrow(/window_sec/);
    expect(() => config("      tool: smbslower\n")).toThrow(/tool/);
  });
});

describe("Connection: detection", () => {
  test("one reconnect (a blip) is not an anomaly; a second within window_sec is", () => {
    expect(detect(config(), [ev(0, "reconnect")])).toEqual([]);
    expect(detect(config(), [ev(0, "reconnect"), ev(61, "reconnect")])).toEqual([]);
    const fired = detect(config(), [
      ev(0, "reconnect"),
      ev(3, "connect_failed", { errno: "ECONNREFUSED" }),
      ev(40, "reconnect"),
    ]);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ name: "conn", type: "connection", count: 2, windowSec: 60 });
    expect(fired[0]!.reason).toBe("2 connection events within 60 s (acceptable_count 2)");
  });
  test("an expired session fires on its own", () => {
    const fired = detect(config(), [ev(0, "session_expired", { session_id: "0x5" })]);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.reason).toBe("the server expired an SMB session (session_expired)");
  });
  test("untracked kinds are not counted; the cooldown turns repeats into a count", () => {
    const c = config("      mode: excludeonly\n      exclude_kinds: [tcon_failed]\n      cooldown_sec: 300\n");
    expect(detect(c, [ev(0, "tcon_failed"), ev(1, "tcon_failed"), ev(2, "tcon_failed")])).toEqual([]);
    const fired = detect(c, [ev(0, "reconnect"), ev(1, "reconnect"), ev(20, "reconnect"), ev(21, "reconnect")]);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.repeats).toEqual({ detections: 1, events: 2 });
  });
  test("anomaly.json details name the servers, kinds and shares of the triggers", () => {
    const fired = detect(config(), [
      ev(0, "reconnect", { server: "srv1" }),
      ev(1, "tcon_failed", { server: "srv2", share: "\\\\srv2\\data", errno: "EACCES" }),
    ]);
    const a = fired[0]!;
    expect(anomalyTypeOf(a.rule!).details?.(a, a.rule!)).toEqual({
      servers: ["srv1", "srv2"],
      kinds: ["reconnect", "tcon_failed"],
      shares: ["\\\\srv2\\data"],
    });
  });
});
