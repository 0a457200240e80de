// Parsers of kernel text the tools read: DebugData (tree id → share),
// /proc/mounts (SMB1 mounts are reported, not traced), /proc/fs/cifs/Stats,
// tracepoint format files; and the histogram helpers.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCmdStats } from "../../src/host/cifs-stats";
import { moduleSymbols } from "../../src/host/modules";
import { cifsMounts, smb1Warnings } from "../../src/host/mounts";
import { enrichWithShares, parseDebugData, ShareResolver } from "../../src/host/shares";
import { parseFormat } from "../../src/host/tracefs";
import { type CommandHistogram, diffHistograms, formatHistograms, histPercentileMs } from "../../src/tools/hist";

const FIX = join(import.meta.dir, "fixtures");

describe("DebugData → shares", () => {
  const text = readFileSync(join(FIX, "debugdata-6.1.txt"), "utf8"); // Debian 6.1, Samba on loopback
  test("every tree of every session", () => {
    expect(parseDebugData(text)).toEqual([
      { sessionId: 0x6fc99aean, treeId: 0xa2bda05b, share: "\\\\127.0.0.1\\IPC$" },
      { sessionId: 0x6fc99aean, treeId: 0x9efb9f5d, share: "\\\\127.0.0.1\\share" },
    ]);
  });
  test("resolver: exact (session, tree), tree alone when unique, re-read at most every N ms", () => {
    const now = 0;
    const r = new ShareResolver(join(FIX, "debugdata-6.1.txt"), 5000, () => now);
    expect(r.resolve(0x6fc99aean, 0x9efb9f5d)).toBe("\\\\127.0.0.1\\share");
    expect(r.resolve(0x1n, 0x9efb9f5d)).toBe("\\\\127.0.0.1\\share");
    expect(r.resolve(0x6fc99aean, 0x1234)).toBeUndefined();
    expect(r.resolve(0x6fc99aean, 0)).toBeUndefined();
    const missing = new ShareResolver("/nonexistent/DebugData", 5000, () => now);
    expect(missing.resolve(1n, 5)).toBeUndefined();
  });
});

describe("/proc/mounts", () => {
  const mounts = [
    "sysfs /sys sysfs rw,nosuid 0 0",
    "//srv/new /mnt/new cifs rw,relatime,vers=3.1.1,cache=strict,username=u 0 0",
    "//srv/old /mnt/old\\040share cifs rw,relatime,vers=1.0,cache=strict 0 0",
    "//srv/s3 /mnt/s3 smb3 rw,vers=3.0 0 0",
  ].join("\n");
  test("cifs and smb3 mounts with their version", () => {
    expect(cifsMounts(mounts).map((m) => [m.mountpoint, m.version])).toEqual([
      ["/mnt/new", "3.1.1"],
      ["/mnt/old share", "1.0"],
      ["/mnt/s3", "3.0"],
    ]);
  });
  test("one warning per SMB1 mount", () => {
    const w = smb1Warnings(mounts);
    expect(w).toHaveLength(1);
    expect(w[0]).toContain("/mnt/old share");
    expect(w[0]).toContain("vers=1.0");
    expect(w[0]).toContain("not traced");
  });
});

describe("/proc/fs/cifs/Stats", () => {
  test("SMB3 CMD numbers summed over servers", () => {
    const block = (n: number) =>
      `Total time spent processing by command. Time units are jiffies (250 per second)\n  SMB3 CMD\tNumber\tTotal Time\tFastest\tSlowest\n  --------\t------\t----------\t-------\t-------\n` +
      Array.from({ length: 19 }, (_, i) => `  ${i}\t\t${i === 5 ? n : 1}\t0\t\t0\t0\n`).join("");
    const stats = parseCmdStats(`Resources in use\n${block(10)}\n2) other server\n${block(7)}`);
    expect(stats![5]).toBe(17);
    expect(stats![0]).toBe(2);
    expect(stats![19]).toBe(0);
    expect(parseCmdStats("Resources in use\nSMBs: 3\n")).toBeUndefined(); // no CONFIG_CIFS_STATS2
  });
});

describe("tracepoint formats and kallsyms", () => {
  test("smb3_cmd_err format (Debian 6.1/6.12 layout)", () => {
    const fmt = `name: smb3_cmd_err\nID: 1234\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:__u32 tid;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:__u64 sesid;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:__u16 cmd;\toffset:24;\tsize:2;\tsigned:0;\n\tfield:__u64 mid;\toffset:32;\tsize:8;\tsigned:0;\n\tfield:__u32 status;\toffset:40;\tsize:4;\tsigned:0;\n\tfield:int rc;\toffset:44;\tsize:4;\tsigned:1;\n`;
    const f = parseFormat(fmt);
    expect(f.tid).toEqual({ offset: 8, size: 4, signed: false });
    expect(f.sesid!.offset).toBe(16);
    expect(f.cmd!.offset).toBe(24);
    expect(f.mid!.offset).toBe(32);
    expect(f.status!.offset).toBe(40);
    expect(f.rc).toEqual({ offset: 44, size: 4, signed: true });
  });
  test("module text symbols from kallsyms", () => {
    const ks =
      "ffffffffc0a01000 t smb2_mid_entry_alloc\t[cifs]\nffffffffc0a02000 T dequeue_mid\t[cifs]\nffffffff81000000 T dequeue_mid_x\nffffffffc0b00000 d smb2_mid_entry_alloc\t[other]";
    expect([...moduleSymbols(["smb2_mid_entry_alloc", "dequeue_mid"], "cifs", ks)].sort()).toEqual([
      "dequeue_mid",
      "smb2_mid_entry_alloc",
    ]);
  });
});

describe("histograms", () => {
  const h = (id: number, counts: Record<number, number>): CommandHistogram => {
    const c = new Array(32).fill(0);
    for (const [k, v] of Object.entries(counts)) c[Number(k)] = v;
    return { id, command: `C${id}`, counts: c, count: c.reduce((a, b) => a + b, 0) };
  };
  test("percentiles are bucket upper bounds in ms", () => {
    const x = h(5, { 10: 98, 15: 2 }); // ~1 ms and ~32 ms
    expect(histPercentileMs(x, 50)).toBe(2.048);
    expect(histPercentileMs(x, 99)).toBe(65.536);
  });
  test("interval diff drops commands with nothing new", () => {
    const d = diffHistograms([h(5, { 10: 5 }), h(9, { 3: 2 })], [h(5, { 10: 5 }), h(9, { 3: 1 })]);
    expect(d.map((x) => [x.id, x.count])).toEqual([[9, 1]]);
  });
  test("text rendering", () => {
    const s = formatHistograms([h(8, { 0: 1, 3: 4 })]);
    expect(s).toContain("C8: 5 commands");
    expect(s).toContain("0 .. 2us");
    expect(s).toContain("8us .. 16us");
  });
});

describe("enrichWithShares (the daemon's hook)", () => {
  const debugdata = readFileSync(join(FIX, "debugdata-6.1.txt"));
  test("fills share from the collected debugdata, leaves others alone", () => {
    const lines = [
      { tool: "smbslower", session_id: "0x6fc99aea", tree_id: "0x9efb9f5d" },
      { tool: "smbslower", session_id: "0x6fc99aea", tree_id: "0x1" },
      { tool: "smbslower", session_id: "0x1", tree_id: "0x9efb9f5d", share: "\\\\kept\\as-is" },
    ];
    const out = enrichWithShares(lines, new Map([["debugdata", new Uint8Array(debugdata)]]));
    expect(out[0]!.share).toBe("\\\\127.0.0.1\\share");
    expect(out[1]).toEqual(lines[1]!);
    expect(out[2]!.share).toBe("\\\\kept\\as-is");
  });
});
