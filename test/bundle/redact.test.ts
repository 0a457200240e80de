// `aod bundles redact`: host names, IPs, users, domains and share paths become
// stable tokens across all members; JSON stays valid; the copy has its own
// manifest (verify passes) and the value → token map is written 0600 beside it.
import { describe, expect, test } from "bun:test";
import { existsSync, linkSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ensureOutputDir } from "../../src/bundle/output-dir";
import { readMembers } from "../../src/bundle/read";
import { redactMembers } from "../../src/bundle/redact";
import { writeBundle } from "../../src/bundle/write";
import { needsBinary, runAod, tempDir } from "../helpers";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const word = (s: string) => new RegExp(`(?<![\\w-])${s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-])`, "i");

// What a real bundle holds, with names that appear nowhere else in it.
const HOST = "cl-ws042";
const ANOMALY = `{
  "type": "connection",
  "name": "conn",
  "detected_at_ns": 1764000000200000001,
  "triggers": [
    {
      "time_ns": 1764000000100000000,
      "conn_kind": "reconnect",
      "server": "127.0.0.1",
      "address": "127.0.0.1:445",
      "share": "\\\\\\\\127.0.0.1\\\\finance",
      "mid": 18446744073709551615
    },
    {
      "conn_kind": "connect_failed",
      "server": "nas07.corp.example.com",
      "address": "[fd00::7]:445"
    }
  ],
  "details": { "servers": ["127.0.0.1", "nas07.corp.example.com"], "shares": ["\\\\\\\\127.0.0.1\\\\finance"] },
  "host": "${HOST}",
  "kernel": "6.1.0-28-amd64",
  "aod_version": "0.1.0"
}
`;
const MOUNTS = [
  "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0",
  "//127.0.0.1/finance /mnt/x cifs rw,relatime,vers=3.1.1,cache=strict,username=alice,domain=ACMECORP,uid=0,noforceuid,addr=127.0.0.1,file_mode=0755 0 0",
  "nas07.corp.example.com:/export/home /home nfs4 rw,relatime,vers=4.2,clientaddr=10.20.30.40,addr=10.20.30.7 0 0",
  "",
].join("\n");
const DEBUGDATA = `Servers:
1) ConnectionId: 0x1 Hostname: 127.0.0.1
	Sessions:
	1) Address: 127.0.0.1 Uses: 1 Capability: 0x300047	Session Status: 1
	Shares:
	0) IPC: \\\\127.0.0.1\\IPC$ Mounts: 1 DevInfo: 0x0 Attributes: 0x0
	1) \\\\127.0.0.1\\finance Mounts: 1 DevInfo: 0x20 Attributes: 0x1006f
		IPv6: 0000:0000:0000:0000:0000:0000:0000:0001
`;
const JOURNAL = `Dec 01 12:34:56 ${HOST} kernel: CIFS: VFS: \\\\127.0.0.1 has not responded in 180 seconds. Reconnecting...
Dec 01 12:34:57 CL-WS042 sshd[99]: Accepted publickey for alice from 10.20.30.99 port 51234; ACMECORP\\alice on ::1
Dec 01 12:34:58 ${HOST} app: mac 52:54:00:12:34:56 at 12:34:58.123, see https://example.org/a/b, pci 0000:00:1f.2, v1.2.3.4 password=hunter2
`;

function bundleMembers(): { name: string; bytes: Uint8Array }[] {
  return [
    { name: "anomaly.json", bytes: enc(ANOMALY) },
    { name: "mounts.log", bytes: enc(MOUNTS) },
    { name: "debug_data.log", bytes: enc(DEBUGDATA) },
    { name: "journalctl.log", bytes: enc(JOURNAL) },
  ];
}

const SECRETS = [HOST, "127.0.0.1", "finance", "alice", "ACMECORP", "nas07", "10.20.30", "fd00::7", "hunter2"];

describe("redactMembers", () => {
  const r = redactMembers(bundleMembers());
  const out = Object.fromEntries(r.members.map((m) => [m.name, dec(m.bytes)]));
  const tokens = Object.fromEntries(r.tokens.values);

  test("none of the host name, the IPs, the share, the user, the domain is left, in any case", () => {
    for (const [name, text] of Object.entries(out))
      for (const s of SECRETS) expect(text.toLowerCase(), `${name} still holds ${s}`).not.toContain(s.toLowerCase());
  });

  test("the same value gets the same token in every member", () => {
    expect(tokens[HOST]).toBe("host-1"); // the bundle's own host comes first
    expect(tokens["CL-WS042"]).toBe("host-1");
    const ip = tokens["127.0.0.1"]!;
    expect(ip).toMatch(/^ip-\d+$/);
    for (const m of ["anomaly.json", "mounts.log", "debug_data.log", "journalctl.log"])
      expect(out[m], m).toMatch(word(ip));
    const share = tokens["\\\\127.0.0.1\\finance"]!;
    expect(share).toMatch(/^share-\d+$/);
    expect(tokens["//127.0.0.1/finance"]).toBe(share);
    expect(JSON.parse(out["anomaly.json"]!).triggers[0].share).toBe(`\\\\${ip}\\${share}`);
    expect(out["mounts.log"]).toContain(`//${ip}/${share} /mnt/x cifs `);
    expect(out["debug_data.log"]).toContain(`1) \\\\${ip}\\${share} Mounts: 1`);
    const user = tokens.alice!;
    expect(user).toBe("user-1");
    expect(out["mounts.log"]).toContain(`username=${user},domain=${tokens.ACMECORP},`);
    expect(out["journalctl.log"]).toContain(`for ${user} from `);
    expect(out["journalctl.log"]).toContain(`${tokens.ACMECORP}\\${user} on ${tokens["::1"]}`);
    // ::1 spelled out in full is the same address.
    expect(tokens["0000:0000:0000:0000:0000:0000:0000:0001"]).toBe(tokens["::1"]!);
    // A server named by anomaly.json and in an nfs mount line; its export is a share.
    const nas = tokens["nas07.corp.example.com"]!;
    expect(out["mounts.log"]).toContain(`${nas}:/${tokens["nas07.corp.example.com:/export/home"]} /home nfs4 `);
    expect(r.tokens.summary()).toMatchObject({ host: 2, user: 1, domain: 1 });
  });

  test("JSON stays valid and exact: only strings change, big integers are kept digit for digit", () => {
    const a = out["anomaly.json"]!;
    expect(() => JSON.parse(a)).not.toThrow();
    expect(a).toContain('"mid": 18446744073709551615');
    expect(a).toContain('"detected_at_ns": 1764000000200000001');
    expect(JSON.parse(a)).toMatchObject({ kernel: "6.1.0-28-amd64", aod_version: "0.1.0", host: "host-1" });
    expect(JSON.parse(a).triggers[1].address).toBe(`[${tokens["fd00::7"]}]:445`);
  });

  test("what is not a name stays: times, MAC and PCI addresses, URLs, versions, numbers; passwords become ***", () => {
    const j = out["journalctl.log"]!;
    for (const keep of ["12:34:58.123", "52:54:00:12:34:56", "https://example.org/a/b", "0000:00:1f.2", "v1.2.3.4"])
      expect(j).toContain(keep);
    expect(j).toContain("password=***");
    expect(out["mounts.log"]).toContain("proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n");
    expect(out["mounts.log"]).toContain(",uid=0,noforceuid,");
    expect(out["debug_data.log"]).toContain("ConnectionId: 0x1 Hostname: ip-");
  });

  test("journal-escaped paths (\\x5c for a backslash) lose their addresses too", () => {
    const r2 = redactMembers([
      { name: "anomaly.json", bytes: new TextEncoder().encode(JSON.stringify({ host: "box1" })) },
      { name: "dmesg.log", bytes: new TextEncoder().encode("CIFS: Attempting to mount \\x5c\\x5c10.1.2.3\\x5cdata\n") },
    ]);
    const d = new TextDecoder().decode(r2.members.find((m) => m.name === "dmesg.log")!.bytes);
    expect(d).not.toContain("10.1.2.3");
    expect(d).toMatch(/\\x5c\\x5cip-\d+\\x5cdata/);
  });

  test("a member that is not UTF-8 keeps every byte outside the replaced values", () => {
    const bin = new Uint8Array([0xff, 0x00, ...enc("addr=127.0.0.1;"), 0xfe, 0x80]);
    const [m] = redactMembers([{ name: "blob.bin", bytes: bin }]).members;
    expect([...m!.bytes]).toEqual([0xff, 0x00, ...enc("addr=ip-1;"), 0xfe, 0x80]);
  });
});

async function aBundle(): Promise<string> {
  const dir = ensureOutputDir(tempDir());
  const { path } = await writeBundle(
    dir,
    1764000000200000001n,
    bundleMembers().map((m) => ({ name: m.name, data: m.bytes })),
    3,
  );
  return path;
}

describe("aod bundles redact", () => {
  test("writes a 0600 copy with none of the values, a 0600 token map, and verify passes on the copy", async () => {
    if (needsBinary()) return;
    const src = await aBundle();
    const dir = tempDir();
    const out = join(dir, "case-1234.tar.zst");
    const r = runAod(["bundles", "redact", src, "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${out} (4 members + manifest.json; replaced 2 hosts,`);
    expect(r.stdout).toContain(`${out}.tokens.json`);
    expect(readdirSync(dir).sort()).toEqual(["case-1234.tar.zst", "case-1234.tar.zst.tokens.json"]); // no temp files
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(statSync(`${out}.tokens.json`).mode & 0o777).toBe(0o600);

    const members = await readMembers(out);
    expect([...members.keys()]).toEqual([
      "anomaly.json",
      "mounts.log",
      "debug_data.log",
      "journalctl.log",
      "manifest.json",
    ]);
    for (const [name, bytes] of members)
      for (const s of SECRETS) expect(dec(bytes).toLowerCase(), `${name}: ${s}`).not.toContain(s.toLowerCase());
    const map = JSON.parse(readFileSync(`${out}.tokens.json`, "utf8"));
    expect(map.tokens).toMatchObject({ [HOST]: "host-1", alice: "user-1", ACMECORP: "domain-1" });
    expect(map.tokens["127.0.0.1"]).toMatch(/^ip-\d+$/);
    const ip = map.tokens["127.0.0.1"];
    expect(dec(members.get("mounts.log")!)).toContain(`addr=${ip},`);
    expect(JSON.parse(dec(members.get("anomaly.json")!)).triggers[0].server).toBe(ip);

    const v = runAod(["bundles", "verify", out]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toBe("ok: 4 members match the manifest\n");
    // The original is untouched.
    expect(runAod(["bundles", "verify", src]).code).toBe(0);
  });

  test("refuses an existing OUT (or token map) without --force, replaces with it; refuses OUT = FILE", async () => {
    if (needsBinary()) return;
    const src = await aBundle();
    const dir = tempDir();
    const out = join(dir, "o.tar.zst");
    writeFileSync(out, "mine");
    const r = runAod(["bundles", "redact", src, "-o", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${out} exists; remove it or pass --force`);
    expect(readFileSync(out, "utf8")).toBe("mine");
    expect(existsSync(`${out}.tokens.json`)).toBe(false);

    const f = runAod(["bundles", "redact", src, "-o", out, "--force"]);
    expect(f.code, f.stderr).toBe(0);
    expect(runAod(["bundles", "verify", out]).code).toBe(0);

    const out2 = join(dir, "p.tar.zst");
    writeFileSync(`${out2}.tokens.json`, "{}");
    const t = runAod(["bundles", "redact", src, "-o", out2]);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain(`${out2}.tokens.json exists`);
    expect(existsSync(out2)).toBe(false);

    for (const same of [src, src.replace("/batches/", "/batches/../batches/")]) {
      const s = runAod(["bundles", "redact", src, "-o", same, "--force"]);
      expect(s.code).toBe(2);
      expect(s.stderr).toContain("that is the bundle being redacted");
    }
    const hard = join(dir, "hardlink.tar.zst");
    linkSync(src, hard);
    const h = runAod(["bundles", "redact", src, "-o", hard, "--force"]);
    expect(h.code).toBe(2);
    expect(runAod(["bundles", "verify", src]).code).toBe(0);
  });

  test("no -o, a missing or garbage bundle: exit 2", () => {
    if (needsBinary()) return;
    const dir = tempDir();
    writeFileSync(join(dir, "g"), "garbage");
    expect(runAod(["bundles", "redact", join(dir, "g")]).stderr).toContain("-o OUT is required");
    for (const f of ["g", "absent"]) {
      const r = runAod(["bundles", "redact", join(dir, f), "-o", join(dir, "x.tar.zst")]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("cannot read bundle");
      expect(readdirSync(dir)).toEqual(["g"]);
    }
  });

  test("a bundle written by aod replay: this host's name and the share are gone", async () => {
    if (needsBinary()) return;
    const dir = tempDir();
    const rec = join(dir, "e.jsonl");
    const ev = (i: number) =>
      `{"time_ns":${1764000000000000000n + BigInt(i) * 1000000n},"command":"SMB2_READ","latency_ms":50,"pid":7,"comm":"dd","share":"\\\\\\\\127.0.0.1\\\\finance"}`;
    writeFileSync(rec, `${[0, 1, 2].map(ev).join("\n")}\n`);
    const cfg = join(dir, "c.yaml");
    writeFileSync(
      cfg,
      "watch_interval_sec: 1\nguardian:\n  anomalies:\n    slow:\n      type: Latency\n      acceptable_count: 3\n      default_threshold_ms: 20\n      actions: [mounts]\n",
    );
    const r = runAod(["replay", rec, "--config", cfg, "--output", join(dir, "o"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const bundle = JSON.parse(r.stdout.trim().split("\n")[0]!).bundle as string;
    const out = join(dir, "shared.tar.zst");
    const x = runAod(["bundles", "redact", bundle, "-o", out]);
    expect(x.code, x.stderr).toBe(0);
    const members = await readMembers(out);
    expect([...members.keys()].sort()).toEqual(["anomaly.json", "manifest.json", "mounts.log"]);
    for (const [name, bytes] of members) {
      const text = dec(bytes);
      expect(text, `${name}: host name ${hostname()}`).not.toMatch(word(hostname()));
      expect(text, name).not.toContain("127.0.0.1");
      expect(text, name).not.toContain("finance");
    }
    const a = JSON.parse(dec(members.get("anomaly.json")!));
    expect(a.host).toBe("host-1");
    expect(a.triggers[0].share).toMatch(/^\\\\ip-\d+\\share-\d+$/);
    expect(runAod(["bundles", "verify", out]).code).toBe(0);
  });

  test("--help teaches: what is replaced, the token map, examples", () => {
    if (needsBinary()) return;
    const r = runAod(["bundles", "redact", "--help"]);
    expect(r.code).toBe(0);
    for (const s of ["host-1", "tokens.json", "--force", "Examples:", "aod bundles verify"])
      expect(r.stdout).toContain(s);
  });
});
