// `aod trace` argument handling and its no-cifs behaviour, run from the sources
// (the same code the binary embeds).

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseCommands } from "../../src/cli/trace";
import { TracePrinter } from "../../src/cli/trace-view";
import { ClockOffset, type EventBatch } from "../../src/format/event";
import { NFS_PROCEDURE_TABLE } from "../../src/format/nfs-procedures";
import { cifsLoaded } from "../../src/host/modules";
import type { ShareResolver } from "../../src/host/shares";
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
  test("--command accepts names with or without SMB2_, rejects others with a suggestion", () => {
    expect(parseCommands("SMB2_WRITE,read")).toEqual({ smb: [9, 8] });
    expect(parseCommands(undefined)).toEqual({});
    expect(() => parseCommands("SMB2_WRTIE")).toThrow(
      /unknown SMB2 command "SMB2_WRTIE" — did you mean SMB2_WRITE\? \(e\.g\. SMB2_WRITE\)/,
    );
  });

  test("--command with NFS: a name selects each protocol's commands of that name", () => {
    const c = parseCommands("write,v4:open", ["smb", "nfs"]);
    expect(c.smb).toEqual([9]);
    expect(c.nfs!.map((i) => NFS_PROCEDURE_TABLE.name(i))).toContain("v4:OPEN");
    expect(c.nfs!.map((i) => NFS_PROCEDURE_TABLE.name(i))).toContain("v3:WRITE");
    expect(parseCommands("v3:LOOKUP", ["smb", "nfs"]).smb).toEqual([]); // SMB reports nothing then
    expect(() => parseCommands("WRTIE", ["nfs"])).toThrow(/unknown NFS procedure "WRTIE" — did you mean WRITE\?/);
  });

  test("usage errors exit 2", () => {
    expect(trace("--interval", "5").code).toBe(2);
    const r = trace("--min-ms", "-3");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--min-ms expects a number ≥ 0");
    expect(trace("--command", "NOPE").code).toBe(2);
    expect(trace("--proto", "afp").stderr).toContain("--proto must be smb, nfs or all");
  });

  test("--no-wait without cifs exits 1 and says why", () => {
    if (skipReason({ "needs root": !isRoot, "cifs is loaded here": cifsLoaded() })) return;
    const r = trace("--no-wait");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no cifs or nfs module is loaded");
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

describe("aod trace: connection events", () => {
  const event = {
    timeNs: 1_764_000_000_000_000_000n,
    latencyNs: 0n,
    sessionId: 0n,
    mid: 1n,
    treeId: 0,
    pid: 42,
    tid: 42,
    rc: -111,
    status: 0,
    command: 1, // connect_failed
    tool: 2,
    flags: 0,
    comm: "cifsd",
  };
  test("a connection event's row shows its kind and server; the summary counts it by kind and server", () => {
    const tail = new Uint8Array(192);
    tail.set(new TextEncoder().encode("files.example"), 0);
    const b = {
      count: 1,
      decode: () => ({ ...event, tail }),
    } as unknown as EventBatch;
    const p = new TracePrinter(false, { resolve: () => undefined } as unknown as ShareResolver, new ClockOffset(0n));
    const { out } = p.print(b, false);
    expect(out).toMatch(/cifsd\s+42\s+connect_failed\s+files\.example ECONNREFUSED/);
    expect(p.summary({}).join("\n")).toMatch(/connect_failed files\.example ECONNREFUSED\s+1/);
    const json = new TracePrinter(true, { resolve: () => undefined } as unknown as ShareResolver, new ClockOffset(0n));
    expect(JSON.parse(json.print(b, false).out)).toMatchObject({
      tool: "smbconn",
      conn_kind: "connect_failed",
      server: "files.example",
      errno: "ECONNREFUSED",
    });
  });
  test("--help offers --connection", () => {
    const r = trace("--help");
    expect(r.stdout).toContain("--connection");
  });
});
