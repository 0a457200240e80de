import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { nfsMounts, parseOptions } from "../../src/host/nfs-mounts";
import {
  mountstatsValue,
  NFS_FSTYPES,
  nfsMountstats,
  parseMountstats,
  perOpNames,
  rpcProgramVersion,
} from "../../src/host/nfs-mountstats";
import {
  NFS2_PROCEDURES,
  NFS3_PROCEDURES,
  NFS4_PROCEDURES,
  NFS4_STABLE_PREFIX,
  parseRpcNfsStats,
  procedureNames,
} from "../../src/host/nfs-rpc-stats";
import { ROOT } from "../helpers";

const fixture = (name: string) => readFileSync(join(ROOT, "test/fixtures/nfs", name), "utf8");

describe("/proc/self/mountstats", () => {
  const all = parseMountstats(fixture("mountstats"));

  test("every block in mount order, names unescaped, statvers on NFS blocks only", () => {
    expect(all.map((e) => [e.device, e.mountpoint, e.fstype, e.statvers, e.lines.length])).toEqual([
      ["proc", "/proc", "proc", undefined, 1],
      ["/dev/vda1", "/", "ext4", undefined, 1],
      ["10.0.0.5:/srv/export", "/mnt/nfs v3", "nfs", "1.1", 32],
      ["//fileserver/share", "/mnt/smb", "cifs", undefined, 1],
      ["filer:/data", "/mnt/v41", "nfs4", "1.1", 81],
    ]);
    // Lines stay as the kernel wrote them.
    expect(all[2]!.lines[0]).toBe(
      "device 10.0.0.5:/srv/export mounted on /mnt/nfs\\040v3 with fstype nfs statvers=1.1",
    );
    expect(all[2]!.lines[1]).toStartWith("\topts:\trw,vers=3,");
  });

  test("the NFS blocks: nfs and nfs4 only", () => {
    expect(nfsMountstats(fixture("mountstats")).map((e) => e.mountpoint)).toEqual(["/mnt/nfs v3", "/mnt/v41"]);
    expect([...NFS_FSTYPES]).toEqual(["nfs", "nfs4"]);
  });

  test("a block's values, RPC program/version and per-op names in the kernel's order", () => {
    const [v3, v41] = nfsMountstats(fixture("mountstats"));
    expect(mountstatsValue(v3!, "age")).toBe("86123");
    expect(mountstatsValue(v41!, "xprt")).toBe("tcp 731 0 1 0 12 3636 3636 0 3650 0 64 14 0");
    expect(mountstatsValue(v41!, "opts")).toStartWith("rw,vers=4.1,rsize=524288,");
    expect(mountstatsValue(v41!, "fsc")).toBeUndefined();
    expect(rpcProgramVersion(v3!)).toEqual({ program: 100003, version: 3 });
    expect(rpcProgramVersion(v41!)).toEqual({ program: 100003, version: 4 });
    expect(perOpNames(v3!)).toEqual([...NFS3_PROCEDURES]);
    // A 6.1/6.12 kernel: 69 v4 procedures, through READ_PLUS.
    expect(perOpNames(v41!)).toEqual(NFS4_PROCEDURES.slice(0, 69));
  });

  test('"no device", blank lines and text before the first block', () => {
    const e = parseMountstats("junk\nno device mounted on /x with fstype tmpfs\n\n\tk:\tv\n");
    expect(e).toEqual([
      {
        device: "",
        mountpoint: "/x",
        fstype: "tmpfs",
        lines: ["no device mounted on /x with fstype tmpfs", "\tk:\tv"],
      },
    ]);
    expect(perOpNames(e[0]!)).toEqual([]);
    expect(rpcProgramVersion(e[0]!)).toBeUndefined();
  });
});

describe("/proc/net/rpc/nfs", () => {
  test("rpc, net and one entry per procN line, in the file's order", () => {
    const s = parseRpcNfsStats(fixture("rpc-nfs"));
    expect(s.rpc).toEqual({ calls: 17078, retrans: 2, authrefresh: 17078 });
    expect(s.net).toEqual([0, 0, 0, 0]);
    expect(s.versions.map((v) => [v.version, v.counts.length])).toEqual([
      [3, 22],
      [4, 69],
    ]);
    expect(s.versions[0]!.counts.slice(0, 8)).toEqual([1, 4210, 12, 873, 1024, 0, 5120, 2048]);
    // v4 counters by the client's own operation list: GETATTR is index 18, SEQUENCE 41.
    expect(s.versions[1]!.counts[NFS4_PROCEDURES.indexOf("GETATTR")]).toBe(1290);
    expect(s.versions[1]!.counts[NFS4_PROCEDURES.indexOf("SEQUENCE")]).toBe(460);
  });

  test("the module loaded, nothing registered: no versions; a short line keeps what it has", () => {
    expect(parseRpcNfsStats("net 0 0 0 0\nrpc 0 0 0\n")).toEqual({
      net: [0, 0, 0, 0],
      rpc: { calls: 0, retrans: 0, authrefresh: 0 },
      versions: [],
    });
    expect(parseRpcNfsStats("proc2 18 1 2 3\n").versions).toEqual([{ version: 2, counts: [1, 2, 3] }]);
  });

  test("the tables: the kernel's indexes", () => {
    expect(NFS2_PROCEDURES.length).toBe(18);
    expect(NFS3_PROCEDURES.length).toBe(22);
    expect(NFS3_PROCEDURES[17]).toBe("READDIRPLUS");
    expect(NFS4_PROCEDURES.length).toBe(70);
    // enum NFSPROC4_CLNT_*: LAYOUTGET before GETDEVICEINFO, whatever order nfs4_procedures[] is written in.
    expect(NFS4_PROCEDURES.indexOf("LAYOUTGET")).toBe(44);
    expect(NFS4_PROCEDURES.indexOf("GETDEVICEINFO")).toBe(45);
    expect(NFS4_PROCEDURES[NFS4_STABLE_PREFIX - 1]).toBe("DEALLOCATE");
    expect(NFS4_PROCEDURES[68]).toBe("READ_PLUS");
    expect(NFS4_PROCEDURES[69]).toBe("OFFLOAD_STATUS");
  });

  test("procedure names: the kernel's when given one per counter, else the table, else by index", () => {
    expect(procedureNames(3, 22)).toEqual({ names: [...NFS3_PROCEDURES], source: "table" });
    // An older kernel: a prefix of the list.
    expect(procedureNames(4, 64)).toEqual({ names: NFS4_PROCEDURES.slice(0, 64), source: "table" });
    expect(procedureNames(4, 70).names[69]).toBe("OFFLOAD_STATUS");
    // More v4 counters than the table: past DEALLOCATE the order is not known.
    const p = procedureNames(4, 71);
    expect(p.source).toBe("partial");
    expect(p.names.slice(55, 59)).toEqual(["ALLOCATE", "DEALLOCATE", "#57", "#58"]);
    expect(p.names.length).toBe(71);
    // The running kernel's names (per-op statistics) win; one it left unnamed (a number) comes from the table.
    const kernel = [...NFS4_PROCEDURES.slice(0, 57), "ZERO_RANGE", ...NFS4_PROCEDURES.slice(57)];
    expect(procedureNames(4, 71, kernel)).toEqual({ names: kernel, source: "kernel" });
    const v2 = NFS2_PROCEDURES.map((n, i) => (n === "ROOT" || n === "WRITECACHE" ? String(i) : n));
    expect(procedureNames(2, 18, v2)).toEqual({ names: [...NFS2_PROCEDURES], source: "kernel" });
    // Kernel names of another length do not fit: the table.
    expect(procedureNames(3, 22, ["NULL"]).source).toBe("table");
    expect(procedureNames(5, 2)).toEqual({ names: ["#0", "#1"], source: "partial" });
  });
});

describe("NFS mounts of mountinfo", () => {
  test("server, export, super options, the mount's fields; other file systems left out", () => {
    const m = nfsMounts(fixture("mountinfo"));
    expect(m.map((n) => [n.mount.id, n.mount.mountpoint, n.mount.root, n.mount.fstype, n.server, n.export])).toEqual([
      [87, "/mnt/nfs v3", "/", "nfs", "10.0.0.5", "/srv/export"],
      [91, "/mnt/v41", "/", "nfs4", "filer", "/data"],
      [102, "/srv/reports", "/reports", "nfs4", "filer", "/data"],
    ]);
    expect(m[1]!.superOptions).toBe(
      "rw,vers=4.1,rsize=524288,wsize=524288,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.0.0.20,local_lock=none,addr=10.0.0.6",
    );
    expect([m[0]!.options.get("vers"), m[0]!.options.get("proto"), m[0]!.options.get("addr")]).toEqual([
      "3",
      "tcp",
      "10.0.0.5",
    ]);
    expect(m[0]!.options.get("hard")).toBe("");
  });

  test("an IPv6 server keeps its brackets; options by name, the first of a repeated one", () => {
    const [m] = nfsMounts("40 22 0:60 / /mnt/six rw - nfs4 [fd00::5]:/export rw,vers=4.2,addr=fd00::5\n");
    expect([m!.server, m!.export, m!.options.get("addr")]).toEqual(["[fd00::5]", "/export", "fd00::5"]);
    expect([...parseOptions("a=1,b,,a=2,c=x=y")]).toEqual([
      ["a", "1"],
      ["b", ""],
      ["c", "x=y"],
    ]);
  });
});
