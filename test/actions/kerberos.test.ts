import { describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cifsKeys, formatKeys, KLIST_RUNS } from "../../src/actions/builtin/kerberos";
import { runActions } from "../../src/actions/run";
import { findBinary } from "../../src/host/which";
import { parseConfigText } from "../../src/registry";
import { tempDir } from "../helpers";

const text = (d: Uint8Array) => new TextDecoder().decode(d);

// /proc/keys as the kernel prints it: "%08x %c%c%c%c%c%c%c %5d %4s %08x %5d %5d %-9.9s " and the
// type's description (cifs.spnego and cifs.idmap cut to 9 characters; ": <data length>" for a positive key).
const PROC_KEYS = [
  "07cf438d I--Q---     2 perm 1f3f0000     0 65534 keyring   _uid.0: empty",
  "1a2b3c4d I--Q---     1  59m 3f010000     0     0 cifs.spne ver=0x2;host=fs1.example.com;ip4=10.1.2.3;sec=krb5;uid=0x3e8;creduid=0x3e8;user=alice;pid=0x4d2: 1480",
  "2b3c4d5e I------     1 perm 1f030000     0     0 cifs.idma os:1000: 4",
  "3c4d5e6f I--Q---     1 perm 3f010000  1000  1000 user      my-secret-token: 32",
  "4d5e6f70 I--Q---     1 perm 3f010000  1000  1000 logon     cifs:a:10.1.2.3: 9",
  "5e6f7081 I------     1   2h 1f030000     0     0 cifs.spne ver=0x2;host=fs2;ip6=::1;sec=mskrb5;uid=0x0;creduid=0x0;pid=0x1",
].join("\n");

describe("kerberos", () => {
  test("only cifs.spnego and cifs.idmap keys, by their (cut) type, with their descriptions", () => {
    const keys = cifsKeys(PROC_KEYS);
    expect(keys.map((k) => [k.id, k.type, k.timeout, k.uid])).toEqual([
      ["1a2b3c4d", "cifs.spnego", "59m", 0],
      ["2b3c4d5e", "cifs.idmap", "perm", 0],
      ["5e6f7081", "cifs.spnego", "2h", 0],
    ]);
    expect(keys[0]!.description).toBe(
      "ver=0x2;host=fs1.example.com;ip4=10.1.2.3;sec=krb5;uid=0x3e8;creduid=0x3e8;user=alice;pid=0x4d2: 1480",
    );
  });

  test("other keys never reach the output (a user key's or cifs logon key's description included)", () => {
    const out = formatKeys(PROC_KEYS);
    expect(out).toContain("cifs.spnego and cifs.idmap keys in /proc/keys (those aod may view; descriptions only): 3\n");
    expect(out).toContain(
      "id=1a2b3c4d type=cifs.spnego flags=I--Q--- usage=1 timeout=59m perm=3f010000 uid=0 gid=0 ver=0x2;host=fs1",
    );
    expect(out).not.toContain("my-secret-token");
    expect(out).not.toContain("cifs:a:");
    expect(out).not.toContain("_uid.0");
    expect(formatKeys("")).toContain(": 0\nnone\n");
    expect(formatKeys(undefined)).toContain("/proc/keys unreadable");
  });

  test("klist runs list tickets and keytab principals, never keys (-K)", () => {
    expect(KLIST_RUNS).toEqual([
      ["klist", "-A"],
      ["klist", "-k"],
    ]);
    expect(KLIST_RUNS.flat()).not.toContain("-K");
  });

  test("the action on this host: /proc/keys read, klist run or its absence noted", async () => {
    const [r] = await runActions(["kerberos"], parseConfigText("", "t"), Date.now());
    expect(r!.file).toBe("kerberos.log");
    expect(r!.status).toBe("ok");
    const out = text(r!.data);
    expect(out).toMatch(/^(# cifs.spnego and cifs.idmap keys|\/proc\/keys unreadable)/);
    if (findBinary("klist")) expect(out).toContain("# klist -A (exit ");
    else {
      expect(r!.note).toBe("klist not found: no tickets listed");
      expect(out).toContain("# klist not found");
    }
  });

  test("klist's output and exit per run; a failing run (no keytab) does not fail the action", async () => {
    // A stand-in klist found first on PATH: what the action runs, and what it makes of the output.
    const bin = tempDir();
    writeFileSync(
      join(bin, "klist"),
      `#!/bin/sh
if [ "$1" = -A ]; then echo "Ticket cache: KEYRING:persistent:0:0"; echo "Default principal: alice@EXAMPLE.COM"; exit 0; fi
echo "klist: Key table file '/etc/krb5.keytab' not found while starting keytab scan" >&2; exit 1
`,
    );
    chmodSync(join(bin, "klist"), 0o755);
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    try {
      const [r] = await runActions(["kerberos"], parseConfigText("", "t"), Date.now());
      expect(r!.status).toBe("ok");
      expect(r!.note).toBeUndefined();
      const out = text(r!.data);
      expect(out).toContain(
        "\n# klist -A (exit 0)\nTicket cache: KEYRING:persistent:0:0\nDefault principal: alice@EXAMPLE.COM\n",
      );
      expect(out).toContain("\n# klist -k (exit 1)\n\n--- stderr ---\nklist: Key table file");
    } finally {
      process.env.PATH = saved;
    }
  });
});
