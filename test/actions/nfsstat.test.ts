import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NFSSTAT_PATHS, nfsstatOutput } from "../../src/actions/builtin/nfsstat";
import { runActions } from "../../src/actions/run";
import { NFS4_PROCEDURES } from "../../src/host/nfs-rpc-stats";
import { parseConfigText } from "../../src/registry";
import { ROOT, skipReason, tempDir } from "../helpers";

const FIX = join(ROOT, "test/fixtures/nfs");
const text = (d: Uint8Array) => new TextDecoder().decode(d);
const NOW = Date.UTC(2025, 0, 1);
const FIXTURES = { rpcNfs: join(FIX, "rpc-nfs"), mountstats: join(FIX, "mountstats") };

/** A /proc/net/rpc/nfs with these lines, and no NFS mount to take names from. */
function rpcFile(lines: string[], mountstats = "device /dev/vda1 mounted on / with fstype ext4\n") {
  const dir = tempDir();
  writeFileSync(join(dir, "nfs"), `${lines.join("\n")}\n`);
  writeFileSync(join(dir, "mountstats"), mountstats);
  return { rpcNfs: join(dir, "nfs"), mountstats: join(dir, "mountstats") };
}

describe("nfsstat", () => {
  test("RPC counters and calls per procedure like nfsstat -c, then the file as read", () => {
    const r = nfsstatOutput(FIXTURES, NOW, 1 << 20);
    const out = text(r.data).replaceAll(FIX, "<fixtures>");
    expect(out).toBe(readFileSync(join(FIX, "expected/nfsstat.txt"), "utf8"));
    expect(out).toContain(
      "\nClient rpc stats:\n" +
        "calls                 retrans               authrefrsh\n" +
        "17078                 2                     17078\n",
    );
    expect(out).toContain(
      "\nClient nfs v3:\n" +
        "null                  getattr               setattr               lookup\n" +
        "1 0%                  4210 31%              12 0%                 873 6%\n" +
        "access                readlink              read                  write\n" +
        "1024 7%               0 0%                  5120 38%              2048 15%\n",
    );
    // v4 by the client's operation list: index 44 is LAYOUTGET, 45 GETDEVICEINFO.
    expect(out).toContain(
      "layoutget             getdeviceinfo         layoutcommit          layoutreturn\n" +
        "0 0%                  0 0%                  0 0%                  0 0%\n",
    );
    expect(out).toContain("getattr               lookup\n");
    expect(out).toContain("1290 35%              301 8%\n");
    expect(out).toEndWith(`\n# <fixtures>/rpc-nfs as read:\n${readFileSync(join(FIX, "rpc-nfs"), "utf8")}`);
    expect(r.note).toBeUndefined();
  });

  test("the same names from aod's table when no NFS mount names them", () => {
    const withMounts = text(nfsstatOutput(FIXTURES, NOW, 1 << 20).data).replaceAll(FIX, "");
    const p = rpcFile(readFileSync(join(FIX, "rpc-nfs"), "utf8").trimEnd().split("\n"));
    const without = text(nfsstatOutput(p, NOW, 1 << 20).data).replaceAll(p.rpcNfs, "/rpc-nfs");
    expect(without).toBe(withMounts);
  });

  test("a kernel with more v4 procedures: its own names from a v4 mount's per-op statistics, else by index", () => {
    const counts = Array.from({ length: 71 }, (_, i) => (i === 57 ? 5 : 0));
    const lines = ["net 0 0 0 0", "rpc 5 0 5", `proc4 71 ${counts.join(" ")}`];
    // No mount: names through DEALLOCATE, the rest by index, and a line saying so.
    const bare = text(nfsstatOutput(rpcFile(lines), NOW, 1 << 20).data);
    expect(bare).toContain(
      "# this kernel counts 71 v4 procedures, more than aod can name without an NFS mount: the others by index\n",
    );
    expect(bare).toContain(
      "deallocate            #57                   #58                   #59\n0 0%                  5 100%",
    );
    // With a v4 mount, the kernel's own list (here ZERO_RANGE inserted after DEALLOCATE).
    const names = [...NFS4_PROCEDURES.slice(0, 57), "ZERO_RANGE", ...NFS4_PROCEDURES.slice(57)];
    const ms =
      "device filer:/data mounted on /mnt/v42 with fstype nfs4 statvers=1.1\n" +
      "\tRPC iostats version: 1.1  p/v: 100003/4 (nfs)\n\tper-op statistics\n" +
      names.map((n) => `\t${n.padStart(12)}: 0 0 0 0 0 0 0 0 0\n`).join("");
    const named = text(nfsstatOutput(rpcFile(lines, ms), NOW, 1 << 20).data);
    expect(named).not.toContain("# this kernel counts");
    expect(named).toContain(
      "deallocate            zero_range            layoutstats           clone\n0 0%                  5 100%",
    );
    expect(named).toContain("read_plus             offload_status\n");
  });

  test("the nfs module loaded with nothing registered: the rpc line and a note", () => {
    const out = text(nfsstatOutput(rpcFile(["net 0 0 0 0", "rpc 0 0 0"]), NOW, 1 << 20).data);
    expect(out).toContain(
      "\nClient rpc stats:\ncalls                 retrans               authrefrsh\n0                     0                     0\n",
    );
    expect(out).toContain("\n# no procN line: no NFS version registered with the client yet\n");
  });

  test("no /proc/net/rpc/nfs: one line; unreadable: one line and a note", () => {
    const dir = tempDir();
    const gone = { rpcNfs: join(dir, "nfs"), mountstats: join(dir, "mountstats") };
    const r = nfsstatOutput(gone, NOW, 1 << 20);
    expect(text(r.data)).toBe(
      `nfs not loaded: ${gone.rpcNfs} does not exist (the kernel's NFS client module is not loaded)\n`,
    );
    expect(r.note).toBeUndefined();
    const bad = nfsstatOutput({ rpcNfs: dir, mountstats: gone.mountstats }, NOW, 1 << 20);
    expect(text(bad.data)).toBe(`${dir} unreadable (EISDIR): NFS client counters not collected\n`);
    expect(bad.note).toBe(`${dir} unreadable (EISDIR)`);
  });

  test("the output cap keeps whole sections", () => {
    const r = nfsstatOutput(FIXTURES, NOW, 2000);
    expect(r.truncated).toBe(true);
    expect(r.note).toBe("output cap reached");
    expect(r.data.length).toBeLessThanOrEqual(2000);
    // Whole sections: the RPC counters and v3 fit, v4 and the raw file do not.
    expect(text(r.data)).toContain("\nClient nfs v3:\n");
    expect(text(r.data)).toEndWith("pathconf              commit\n1 0%                  31 0%\n");
  });

  const skip = skipReason({
    "the nfs module is loaded here: the not-loaded line cannot be checked": existsSync(NFSSTAT_PATHS.rpcNfs),
  });
  test.skipIf(!!skip)("this machine's /proc (nfs not loaded), through the action runner", async () => {
    const [r] = await runActions(["nfsstat"], parseConfigText("", "t"), Date.now());
    expect(r!.status).toBe("ok");
    expect(r!.file).toBe("nfsstat.log");
    expect(text(r!.data)).toBe(
      "nfs not loaded: /proc/net/rpc/nfs does not exist (the kernel's NFS client module is not loaded)\n",
    );
  });
});
