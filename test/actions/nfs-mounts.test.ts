import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MOUNTINFO_PATH, nfsMountsOutput } from "../../src/actions/builtin/nfs_mounts";
import { runActions } from "../../src/actions/run";
import { redactMembers } from "../../src/bundle/redact";
import { nfsMounts } from "../../src/host/nfs-mounts";
import { parseConfigText } from "../../src/registry";
import { ROOT, skipReason, tempDir } from "../helpers";

const FIX = join(ROOT, "test/fixtures/nfs");
const text = (d: Uint8Array) => new TextDecoder().decode(d);
const NOW = Date.UTC(2025, 0, 1);

describe("nfs_mounts", () => {
  test("the NFS mounts of mountinfo: /proc/mounts form, then id, root and the connection's options", () => {
    const r = nfsMountsOutput(join(FIX, "mountinfo"), NOW, 1 << 20);
    const out = text(r.data).replaceAll(FIX, "<fixtures>");
    expect(out).toBe(readFileSync(join(FIX, "expected/nfs_mounts.txt"), "utf8"));
    expect(out).toContain(
      "\n10.0.0.5:/srv/export /mnt/nfs\\040v3 nfs rw,vers=3,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,mountaddr=10.0.0.5,mountvers=3,mountport=20048,mountproto=udp,local_lock=none,addr=10.0.0.5\n" +
        "  mount_id=87 vers=3 proto=tcp addr=10.0.0.5 mountaddr=10.0.0.5 sec=sys timeo=600 retrans=2 hard\n",
    );
    expect(out).toContain(
      "  mount_id=102 root=/reports vers=4.1 proto=tcp addr=10.0.0.6 clientaddr=10.0.0.20 sec=sys timeo=600 retrans=2 hard\n",
    );
    expect(out).not.toContain("cifs");
    expect(r.note).toBeUndefined();
  });

  test("a soft mount and a mount point with a tab and a backslash stay one field each", () => {
    const dir = tempDir();
    const p = join(dir, "mountinfo");
    writeFileSync(
      p,
      "50 22 0:70 / /mnt/a\\011b\\134c rw - nfs srv.example.com:/x rw,vers=3,soft,proto=udp,addr=10.1.1.1\n",
    );
    expect(
      text(nfsMountsOutput(p, NOW, 1 << 20).data)
        .split("\n")
        .slice(3),
    ).toEqual([
      "",
      "srv.example.com:/x /mnt/a\\011b\\134c nfs rw,vers=3,soft,proto=udp,addr=10.1.1.1",
      "  mount_id=50 vers=3 proto=udp addr=10.1.1.1 soft",
      "",
    ]);
  });

  test("bundle redaction learns a short server name from these lines", () => {
    const data = nfsMountsOutput(join(FIX, "mountinfo"), NOW, 1 << 20).data;
    const [m] = redactMembers([{ name: "nfs_mounts.log", bytes: data }]).members;
    const out = text(m!.bytes);
    expect(out).not.toMatch(/\bfiler\b/);
    expect(out).not.toContain("10.0.0.6");
  });

  test("no NFS mount: one line; an unreadable table: one line and a note", () => {
    const dir = tempDir();
    const p = join(dir, "mountinfo");
    writeFileSync(p, "22 1 252:1 / / rw - ext4 /dev/vda1 rw\n95 22 0:58 / /mnt/smb rw - cifs //s/x rw,vers=3.1.1\n");
    expect(text(nfsMountsOutput(p, NOW, 1 << 20).data)).toBe(`no NFS mounts in ${p}\n`);
    const r = nfsMountsOutput(join(dir, "missing"), NOW, 1 << 20);
    expect(text(r.data)).toBe(`${join(dir, "missing")} unreadable: NFS mounts not listed\n`);
    expect(r.note).toBe(`${join(dir, "missing")} unreadable`);
  });

  test("the output cap keeps whole mounts and says how many", () => {
    const full = text(nfsMountsOutput(join(FIX, "mountinfo"), NOW, 1 << 20).data);
    const r = nfsMountsOutput(join(FIX, "mountinfo"), NOW, full.indexOf("\nfiler:/data /srv/reports"));
    expect(r.truncated).toBe(true);
    expect(r.note).toBe("output cap reached after 2 of 3 mounts");
  });

  const skip = skipReason({
    "this machine has NFS mounts: the no-mount line cannot be checked":
      nfsMounts(readFileSync(MOUNTINFO_PATH, "utf8")).length > 0,
  });
  test.skipIf(!!skip)("this machine's /proc (no NFS mounts), through the action runner", async () => {
    const [r] = await runActions(["nfs_mounts"], parseConfigText("", "t"), Date.now());
    expect(r!.status).toBe("ok");
    expect(r!.file).toBe("nfs_mounts.log");
    expect(text(r!.data)).toBe("no NFS mounts in /proc/self/mountinfo\n");
  });
});
