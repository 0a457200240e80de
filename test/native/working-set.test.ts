// The working-set trim: which mappings it may touch, and that it gives back
// this very process's file pages without harm to what runs next.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { networkDevices, parseSmaps, trimWorkingSet } from "../../src/native/working-set";

const SMAPS = `00200000-01a39000 r--p 00000000 fe:00 5308698                            /usr/bin/aod
Rss:                1856 kB
Anonymous:             0 kB
01a40000-0684a000 r-xp 01838000 fe:00 5308698                            /usr/bin/aod
Rss:               12392 kB
Anonymous:             0 kB
06867000-0767f000 rw-p 0665e000 fe:00 5308698                            /usr/bin/aod
Rss:                7316 kB
Anonymous:           112 kB
7f0000000000-7f0000400000 rw-p 00000000 00:00 0
Rss:                4096 kB
Anonymous:          4096 kB
7f0000500000-7f0000501000 r--s 00000000 00:0e 1234                       anon_inode:bpf-map
Rss:                   4 kB
Anonymous:             0 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                  40 kB
Anonymous:            40 kB
`;

const rssFileKb = () => Number(/RssFile:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);

describe("working set", () => {
  test("only private file mappings are candidates; writable ones and ones with private pages are told apart", () => {
    const m = parseSmaps(SMAPS);
    expect(m[1]!.dev).toBe("fe:00");
    expect(m.map((x) => [x.file, x.writable, x.rssKb, x.anonKb])).toEqual([
      [true, false, 1856, 0],
      [true, false, 12392, 0],
      [true, true, 7316, 112],
      [false, true, 4096, 4096], // anonymous memory: the garbage collector's
      [false, false, 4, 0], // a shared mapping (the BPF ring): never
      [false, true, 40, 40], // the stack: never
    ]);
  });

  test("files on network file systems are left alone (a hung server must not hang aod)", () => {
    const mountinfo = [
      "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
      "40 22 0:52 / /mnt/smb rw,relatime shared:20 - cifs //srv/share rw,vers=3.1.1",
      "41 22 0:53 / /mnt/nfs rw,relatime shared:21 - nfs4 srv:/export rw,vers=4.1",
      "42 22 0:54 / /mnt/ssh rw,relatime shared:22 - fuse.sshfs u@h:/ rw",
      "43 22 0:55 / /project rw,relatime shared:23 - 9p project rw",
    ].join("\n");
    expect([...networkDevices(mountinfo)]).toEqual(["00:34", "00:35", "00:36"]);
  });

  test("trimming this process gives back file pages, and code still runs afterwards", () => {
    const before = rssFileKb();
    const r = trimWorkingSet();
    const after = rssFileKb();
    expect(r.mappings).toBeGreaterThan(0);
    expect(r.bytes).toBeGreaterThan(0);
    expect(after).toBeLessThan(before);
    // What runs next maps its pages back (minor faults): JSON, regexes, typed arrays.
    const o = JSON.parse(JSON.stringify({ a: [1, 2, 3], b: "x".repeat(1000) }));
    expect(o.a).toEqual([1, 2, 3]);
    expect(/^x+$/.test(o.b)).toBe(true);
    expect(new Float64Array([1.5, 2.5]).reduce((s, v) => s + v, 0)).toBe(4);
  });
});
