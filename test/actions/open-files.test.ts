import { describe, expect, test } from "bun:test";
import { mkdirSync, rmdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  decodeMode,
  formatOpenFiles,
  MAX_LINES,
  parseFdinfo,
  SHARE_FSTYPES,
  scanOpenFiles,
} from "../../src/actions/builtin/open_files";
import { mountOfPath, parseMountinfo } from "../../src/host/mountinfo";
import { isRoot, skipReason, tempDir } from "../helpers";

const text = (d: Uint8Array) => new TextDecoder().decode(d);
const live = () => new AbortController().signal;

// aod's namespace: /, a cifs share (with a space in its path), a tmpfs mounted inside it, an NFS mount, /home.
const OWN_MOUNTINFO = [
  "21 1 0:20 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
  "30 21 0:40 / /mnt/my\\040share rw,relatime shared:10 - cifs //srv/share rw,vers=3.1.1,cache=strict",
  "31 30 0:41 / /mnt/my\\040share/nested rw,relatime - tmpfs tmpfs rw",
  "32 21 0:42 / /mnt/nfs rw,relatime shared:12 - nfs4 srv:/export rw,vers=4.2",
  "33 21 0:43 / /home rw - ext4 /dev/sda2 rw",
].join("\n");
// A container's namespace: the share bind-mounted at /data (mount id 90 exists only there).
const POD_MOUNTINFO = [
  "80 79 0:60 / / rw - overlay overlay rw",
  "90 80 0:40 /sub /data rw,relatime - cifs //srv/share rw,vers=3.1.1",
].join("\n");

/** A /proc stand-in. The links point at paths that do not exist: only the links are ever read. */
function fakeProc() {
  const p = tempDir("aod-proc-");
  mkdirSync(join(p, "self", "ns"), { recursive: true });
  writeFileSync(join(p, "self", "mountinfo"), OWN_MOUNTINFO);
  symlinkSync("mnt:[1]", join(p, "self", "ns", "mnt"));
  const proc = (
    pid: number,
    comm: string,
    ns: string,
    links: Record<string, string>,
    fdinfo: Record<string, string> = {},
    mountinfo?: string,
  ) => {
    const d = join(p, String(pid));
    mkdirSync(join(d, "fd"), { recursive: true });
    mkdirSync(join(d, "fdinfo"), { recursive: true });
    mkdirSync(join(d, "ns"), { recursive: true });
    symlinkSync(ns, join(d, "ns", "mnt"));
    writeFileSync(join(d, "comm"), `${comm}\n`);
    if (mountinfo) writeFileSync(join(d, "mountinfo"), mountinfo);
    for (const [name, target] of Object.entries(links))
      symlinkSync(target, /^\d+$/.test(name) ? join(d, "fd", name) : join(d, name));
    for (const [fd, info] of Object.entries(fdinfo)) writeFileSync(join(d, "fdinfo", fd), info);
  };
  proc(
    10,
    "cat",
    "mnt:[1]",
    {
      cwd: "/mnt/my share/dir",
      root: "/",
      exe: "/usr/bin/cat",
      "0": "/dev/pts/0",
      "3": "/mnt/my share/a b.txt",
      "4": "socket:[1234]",
      "5": "/mnt/my share/nested/x", // a tmpfs inside the share: not on the share
      "6": "/mnt/my share/gone.txt (deleted)",
      "7": "/mnt/my shareholder/y", // a sibling directory, not under the mount point
    },
    {
      "3": "pos:\t4096\nflags:\t0100002\nmnt_id:\t30\nino:\t12\n",
      "5": "pos:\t0\nflags:\t0100000\nmnt_id:\t31\n",
      "6": "pos:\t0\nflags:\t0100001\nmnt_id:\t30\n",
    },
  );
  proc(
    11,
    "tail",
    "mnt:[1]",
    { cwd: "/home/u", "3": "/mnt/nfs/log" },
    { "3": "pos:\t7\nflags:\t0100000\nmnt_id:\t32\n" },
  );
  proc(12, "bash", "mnt:[1]", { cwd: "/home/u", "3": "/home/u/.bashrc" });
  proc(
    20,
    "app",
    "mnt:[2]",
    { cwd: "/", "3": "/data/db.sqlite" },
    { "3": "flags:\t02100002\nmnt_id:\t90\n" },
    POD_MOUNTINFO,
  );
  return p;
}

describe("open_files parsing", () => {
  test("mountinfo: ids, escaped mount points, optional fields, fstype and source", () => {
    const m = parseMountinfo(OWN_MOUNTINFO);
    expect(m.map((x) => [x.id, x.mountpoint, x.fstype, x.source])).toEqual([
      [21, "/", "ext4", "/dev/sda1"],
      [30, "/mnt/my share", "cifs", "//srv/share"],
      [31, "/mnt/my share/nested", "tmpfs", "tmpfs"],
      [32, "/mnt/nfs", "nfs4", "srv:/export"],
      [33, "/home", "ext4", "/dev/sda2"],
    ]);
    expect(parseMountinfo(POD_MOUNTINFO)[1]!.root).toBe("/sub");
  });

  test("a path's mount is the longest mount point above it, by text alone", () => {
    const m = parseMountinfo(OWN_MOUNTINFO);
    expect(mountOfPath("/mnt/my share/a", m)?.id).toBe(30);
    expect(mountOfPath("/mnt/my share", m)?.id).toBe(30);
    expect(mountOfPath("/mnt/my share/nested/x", m)?.id).toBe(31);
    expect(mountOfPath("/mnt/my shareholder/y", m)?.id).toBe(21);
    expect(mountOfPath("socket:[1]", m)).toBeUndefined();
    // Two mounts stacked on one mount point: the later one is what paths reach.
    const stacked = parseMountinfo(`${OWN_MOUNTINFO}\n40 32 0:50 / /mnt/nfs rw - cifs //other/x rw`);
    expect(mountOfPath("/mnt/nfs/f", stacked)?.id).toBe(40);
  });

  test("fdinfo: pos, octal flags, mnt_id; modes r, w, rw, path", () => {
    expect(parseFdinfo("pos:\t10\nflags:\t0100002\nmnt_id:\t30\n")).toEqual({ pos: 10, flags: 0o100002, mntId: 30 });
    expect(parseFdinfo("")).toEqual({ pos: undefined, flags: undefined, mntId: undefined });
    expect(decodeMode(0o100000)).toBe("r");
    expect(decodeMode(0o102001)).toBe("w"); // O_APPEND|O_WRONLY
    expect(decodeMode(0o2100002)).toBe("rw");
    expect(decodeMode(0o10000000)).toBe("path");
    expect([...SHARE_FSTYPES]).toEqual(["cifs", "smb3", "nfs", "nfs4"]);
    expect(MAX_LINES).toBe(2000);
  });
});

describe("open_files on a /proc stand-in", () => {
  test("files on each cifs and nfs mount, grouped by mount, with mode; containers in their own namespace", async () => {
    const scan = await scanOpenFiles(fakeProc(), live());
    const out = text(formatOpenFiles(scan, Date.UTC(2025, 0, 1), 1 << 20).data);
    expect(out).toContain("# 3 mounts; 3 processes with 5 files open on them\n");
    expect(out).toContain(
      "\n## //srv/share on /mnt/my share (cifs, mount id 30): 1 processes, 3 files\n" +
        'pid=10 comm="cat" fd=cwd /mnt/my share/dir\n' +
        'pid=10 comm="cat" fd=3 mode=rw pos=4096 /mnt/my share/a b.txt\n' +
        'pid=10 comm="cat" fd=6 mode=w pos=0 /mnt/my share/gone.txt (deleted)\n',
    );
    expect(out).toContain(
      '\n## srv:/export on /mnt/nfs (nfs4, mount id 32): 1 processes, 1 files\npid=11 comm="tail" fd=3 mode=r pos=7 /mnt/nfs/log\n',
    );
    expect(out).toContain(
      '\n## //srv/share on /data (cifs, mount id 90, root /sub, mount namespace mnt:[2]): 1 processes, 1 files\npid=20 comm="app" fd=3 mode=rw /data/db.sqlite\n',
    );
    expect(out).not.toContain("nested");
    expect(out).not.toContain("shareholder");
    expect(out).not.toContain("bash");
    // aod's own namespace first, then the others.
    expect(out.indexOf("/mnt/nfs (")).toBeLessThan(out.indexOf("/data ("));
  });

  test("a share nothing has open is listed as such; no share mounts at all says so", async () => {
    const p = fakeProc();
    const scan = await scanOpenFiles(p, live(), { fstypes: new Set(["cifs", "nfs4", "ext4"]) });
    expect(text(formatOpenFiles(scan, 0, 1 << 20).data)).toContain("(ext4, mount id 33): 2 processes");
    const none = tempDir("aod-proc-");
    mkdirSync(join(none, "self"));
    writeFileSync(join(none, "self", "mountinfo"), "21 1 0:20 / / rw - ext4 /dev/sda1 rw\n");
    const out = text(formatOpenFiles(await scanOpenFiles(none, live()), 0, 1 << 20).data);
    expect(out).toContain("no cifs or nfs mounts");
  });

  test("bounded: lines beyond the limit are counted, not listed; the output cap cuts and marks", async () => {
    const scan = await scanOpenFiles(fakeProc(), live(), { maxLines: 2 });
    const out = text(formatOpenFiles(scan, 0, 1 << 20).data);
    expect(out).toContain("3 files beyond the limit counted, not listed");
    expect(out).toContain("1 processes, 3 files (1 not listed)");
    const capped = formatOpenFiles(await scanOpenFiles(fakeProc(), live()), 0, 700);
    expect(capped.truncated).toBe(true);
    expect(capped.data.length).toBeLessThanOrEqual(700);
    expect(capped.note).toBe("output cap reached");
  });

  test("no mount table: a note, not a throw; a deadline: partial", async () => {
    const r = formatOpenFiles(await scanOpenFiles(join(tempDir(), "none"), live()), 0, 1 << 20);
    expect(r.note).toContain("mountinfo unreadable");
    const ac = new AbortController();
    ac.abort();
    const scan = await scanOpenFiles(fakeProc(), ac.signal);
    expect(scan.stopped).toBe(true);
    expect(text(formatOpenFiles(scan, 0, 1 << 20).data)).toContain("the list is partial");
  });
});

describe("open_files on this host", () => {
  const skip = skipReason({ "needs root (mount)": !isRoot });

  // tmpfs stands in for a share: the real /proc, a real mount, a real process holding files.
  test.skipIf(!!skip)("a process with files open on a mount, from the real /proc", async () => {
    const dir = tempDir();
    const mnt = join(dir, "share point");
    mkdirSync(mnt);
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "aodtest", mnt]).exitCode).toBe(0);
    let holder: ReturnType<typeof Bun.spawn> | undefined;
    try {
      writeFileSync(join(mnt, "in.txt"), "x");
      holder = Bun.spawn(["bash", "-c", "exec 3<in.txt 4>>out.txt 5<>both.txt; echo ready; exec sleep 30"], {
        cwd: mnt,
        stdout: "pipe",
      });
      const reader = (holder.stdout as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // "ready": the fds are open
      const scan = await scanOpenFiles("/proc", live(), { fstypes: new Set(["tmpfs"]) });
      const out = text(formatOpenFiles(scan, Date.now(), 1 << 20).data);
      const pid = holder.pid;
      expect(out).toMatch(new RegExp(`\\n## aodtest on ${mnt} \\(tmpfs, mount id \\d+\\): 1 processes, 4 files\\n`));
      expect(out).toContain(`pid=${pid} comm="sleep" fd=cwd ${mnt}\n`);
      expect(out).toContain(`pid=${pid} comm="sleep" fd=3 mode=r pos=0 ${mnt}/in.txt\n`);
      expect(out).toContain(`pid=${pid} comm="sleep" fd=4 mode=w pos=0 ${mnt}/out.txt\n`);
      expect(out).toContain(`pid=${pid} comm="sleep" fd=5 mode=rw pos=0 ${mnt}/both.txt\n`);
      // The real action: no cifs or nfs mount here (or some): it runs and never throws.
      const real = await scanOpenFiles("/proc", live());
      expect(real.error).toBeUndefined();
    } finally {
      holder?.kill("SIGKILL");
      await holder?.exited;
      Bun.spawnSync(["umount", mnt]);
      rmdirSync(mnt);
    }
  });
});
