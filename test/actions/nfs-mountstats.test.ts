import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MOUNTSTATS_PATH, nfsMountstatsOutput } from "../../src/actions/builtin/nfs_mountstats";
import { runActions } from "../../src/actions/run";
import { nfsMountstats } from "../../src/host/nfs-mountstats";
import { parseConfigText } from "../../src/registry";
import { ROOT, skipReason, tempDir } from "../helpers";

const FIX = join(ROOT, "test/fixtures/nfs");
const text = (d: Uint8Array) => new TextDecoder().decode(d);
const NOW = Date.UTC(2025, 0, 1);

describe("nfs_mountstats", () => {
  test("the NFS blocks of a mountstats with a v3, a v4.1, a cifs and an ext4 mount, whole", () => {
    const r = nfsMountstatsOutput(join(FIX, "mountstats"), NOW, 1 << 20);
    const out = text(r.data).replaceAll(FIX, "<fixtures>");
    expect(out).toBe(readFileSync(join(FIX, "expected/nfs_mountstats.txt"), "utf8"));
    expect(r.truncated).toBe(false);
    expect(r.note).toBeUndefined();
    // Every line of the two NFS blocks, per-op statistics included; nothing of the others.
    const fixture = readFileSync(join(FIX, "mountstats"), "utf8").trimEnd().split("\n");
    for (const line of fixture)
      if (/^device (proc|\/dev\/vda1|\/\/fileserver)/.test(line)) expect(out).not.toContain(line);
      else expect(out).toContain(`${line}\n`);
  });

  test("the output cap keeps whole blocks and says how many", () => {
    const full = text(nfsMountstatsOutput(join(FIX, "mountstats"), NOW, 1 << 20).data);
    const r = nfsMountstatsOutput(join(FIX, "mountstats"), NOW, full.indexOf("\ndevice filer") + 10);
    expect(r.truncated).toBe(true);
    expect(r.note).toBe("output cap reached after 1 of 2 mounts");
    expect(text(r.data)).toContain("COMMIT: 31 31 0");
    expect(text(r.data)).not.toContain("device filer");
  });

  test("no NFS mount: one line; an unreadable file: one line and a note", () => {
    const dir = tempDir();
    const only = join(dir, "mountstats");
    writeFileSync(
      only,
      "device /dev/vda1 mounted on / with fstype ext4\ndevice //s/x mounted on /mnt/smb with fstype cifs\n",
    );
    expect(text(nfsMountstatsOutput(only, NOW, 1 << 20).data)).toBe(`no NFS mounts in ${only}\n`);
    const r = nfsMountstatsOutput(dir, NOW, 1 << 20); // a directory cannot be read as a file
    expect(text(r.data)).toBe(`${dir} unreadable: NFS mount statistics not collected\n`);
    expect(r.note).toBe(`${dir} unreadable`);
  });

  const nfsHere = existsSync(MOUNTSTATS_PATH) && nfsMountstats(readFileSync(MOUNTSTATS_PATH, "utf8")).length > 0;
  const skip = skipReason({ "this machine has NFS mounts: the no-mount line cannot be checked": nfsHere });
  test.skipIf(!!skip)("this machine's /proc (no NFS mounts), through the action runner", async () => {
    const [r] = await runActions(["nfs_mountstats"], parseConfigText("", "t"), Date.now());
    expect(r!.status).toBe("ok");
    expect(r!.file).toBe("nfs_mountstats.log");
    expect(text(r!.data)).toBe("no NFS mounts in /proc/self/mountstats\n");
  });
});
