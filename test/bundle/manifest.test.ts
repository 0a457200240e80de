// manifest.json: written last into every bundle from the final member bytes;
// `aod bundles verify` checks a bundle against it (exit 0 / 1 naming each
// changed, missing or extra member / 1 for a bundle older than manifests /
// 2 for a file that is no bundle).
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildManifest, MANIFEST, type Manifest, verifyMembers } from "../../src/bundle/manifest";
import { ensureOutputDir } from "../../src/bundle/output-dir";
import { openBundle, readMembers } from "../../src/bundle/read";
import { bundleTar, writeBundle } from "../../src/bundle/write";
import { zstdCompress } from "../../src/native/zstd";
import { needsBinary, runAod, tempDir } from "../helpers";

const sha = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex");
const enc = (s: string) => new TextEncoder().encode(s);

/** A bundle as aod writes it: dmesg.log (UTF-8 text), anomaly.json, a binary member. */
async function aBundle(): Promise<string> {
  const dir = ensureOutputDir(tempDir());
  const { path } = await writeBundle(
    dir,
    1764000000000000000n,
    [
      { name: "dmesg.log", data: "kernel says hé\n" },
      { name: "anomaly.json", data: '{"type":"latency"}\n' },
      { name: "blob.bin", data: new Uint8Array([0, 1, 2, 255]) },
    ],
    3,
  );
  return path;
}

/** A copy of a bundle with its members edited and written as they are (no manifest computed). */
async function edited(src: string, edit: (m: Map<string, Uint8Array>) => void): Promise<string> {
  const members = await readMembers(src);
  edit(members);
  const out = join(tempDir(), "edited.tar.zst");
  writeFileSync(out, zstdCompress(await new Bun.Archive(Object.fromEntries(members)).bytes()));
  return out;
}

describe("manifest.json", () => {
  test("written last, listing every other member with its size and sha256 of the bytes in the archive", async () => {
    const path = await aBundle();
    const b = await openBundle(path);
    expect(b.members.map((m) => m.name)).toEqual(["dmesg.log", "anomaly.json", "blob.bin", MANIFEST]);
    const manifest = JSON.parse(await b.files.get(MANIFEST)!.text()) as Manifest;
    expect(manifest.schema_version).toBe(1);
    expect(manifest.members).toEqual([
      { name: "dmesg.log", size: enc("kernel says hé\n").length, sha256: sha("kernel says hé\n") },
      { name: "anomaly.json", size: 19, sha256: sha('{"type":"latency"}\n') },
      { name: "blob.bin", size: 4, sha256: sha(new Uint8Array([0, 1, 2, 255])) },
    ]);
    expect(manifest.members[0]!.size).toBe(16); // bytes, not characters
    // What the archive holds is what the manifest hashed.
    const members = await readMembers(path);
    for (const m of manifest.members) expect(sha(members.get(m.name)!)).toBe(m.sha256);
  });

  test("a manifest.json passed in is replaced by the writer's; a repeated name keeps the last data", async () => {
    const tar = await bundleTar([
      { name: "a.log", data: "old" },
      { name: MANIFEST, data: "forged" },
      { name: "a.log", data: "new" },
    ]);
    const files = await new Bun.Archive(tar).files();
    expect([...files.keys()]).toEqual(["a.log", MANIFEST]);
    expect(await files.get("a.log")!.text()).toBe("new");
    expect(JSON.parse(await files.get(MANIFEST)!.text()).members).toEqual([
      { name: "a.log", size: 3, sha256: sha("new") },
    ]);
  });

  test("buildManifest skips a manifest member and keeps the order", () => {
    expect(
      buildManifest([
        { name: "z", bytes: enc("") },
        { name: MANIFEST, bytes: enc("x") },
        { name: "a", bytes: enc("a") },
      ]),
    ).toEqual({
      schema_version: 1,
      members: [
        { name: "z", size: 0, sha256: sha("") },
        { name: "a", size: 1, sha256: sha("a") },
      ],
    });
  });

  test("verifyMembers: ok; changed; missing; extra; no manifest; bad manifest", async () => {
    const members = await readMembers(await aBundle());
    expect(verifyMembers(members)).toEqual({ status: "checked", ok: true, checked: 3, problems: [] });

    const changed = new Map(members).set("dmesg.log", enc("kernel says ho\n!"));
    const v = verifyMembers(changed);
    expect(v.status === "checked" && v.problems).toEqual([
      {
        name: "dmesg.log",
        problem: "changed",
        size: 16,
        sha256: sha("kernel says ho\n!"),
        expected: { size: 16, sha256: sha("kernel says hé\n") },
      },
    ]);

    const missing = new Map(members);
    missing.delete("blob.bin");
    missing.set("notes.txt", enc("mine"));
    const w = verifyMembers(missing);
    expect(w.status === "checked" && w.ok).toBe(false);
    expect(w.status === "checked" && w.problems.map((p) => [p.name, p.problem])).toEqual([
      ["blob.bin", "missing"],
      ["notes.txt", "extra"],
    ]);

    const none = new Map(members);
    none.delete(MANIFEST);
    expect(verifyMembers(none)).toEqual({ status: "no-manifest" });
    expect(verifyMembers(new Map(members).set(MANIFEST, enc("{")))).toMatchObject({ status: "bad-manifest" });
    expect(verifyMembers(new Map(members).set(MANIFEST, enc('{"schema_version":9,"members":[]}')))).toMatchObject({
      status: "bad-manifest",
      error: expect.stringContaining("schema_version 9"),
    });
  });
});

describe("aod bundles verify", () => {
  test("a bundle as written: exit 0, one line; --json", async () => {
    if (needsBinary()) return;
    const path = await aBundle();
    const r = runAod(["bundles", "verify", path]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("ok: 3 members match the manifest\n");
    const j = runAod(["bundles", "verify", path, "--json"]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual({ file: path, ok: true, manifest: true, members: 3, problems: [] });
  });

  test("a bare file name is looked up in the current directory first", async () => {
    if (needsBinary()) return;
    const path = await aBundle();
    const dir = path.slice(0, path.lastIndexOf("/"));
    const name = readdirSync(dir)[0]!;
    const r = runAod(["bundles", "verify", name], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
  });

  test("one changed member: exit 1 naming it (size and sha)", async () => {
    if (needsBinary()) return;
    const out = await edited(await aBundle(), (m) => m.set("anomaly.json", enc('{"type":"error"}\n')));
    const r = runAod(["bundles", "verify", out]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("does not match its manifest (1 problem, 3 members listed)");
    expect(r.stdout).toMatch(/changed {2}anomaly\.json: size 17 B, manifest says 19 B; sha256 [0-9a-f]{16}…/);
    expect(r.stdout).not.toContain("dmesg.log");
    const j = JSON.parse(runAod(["bundles", "verify", out, "--json"]).stdout);
    expect(j.ok).toBe(false);
    expect(j.problems).toEqual([
      expect.objectContaining({ name: "anomaly.json", problem: "changed", sha256: sha('{"type":"error"}\n') }),
    ]);
  });

  test("same size, other bytes: still changed", async () => {
    if (needsBinary()) return;
    const out = await edited(await aBundle(), (m) => m.set("blob.bin", new Uint8Array([0, 1, 2, 254])));
    const r = runAod(["bundles", "verify", out]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/changed {2}blob\.bin: size 4 B; sha256 [0-9a-f]{16}…, manifest says [0-9a-f]{16}…/);
  });

  test("a missing and an extra member: exit 1 naming both", async () => {
    if (needsBinary()) return;
    const out = await edited(await aBundle(), (m) => {
      m.delete("dmesg.log");
      m.set("extra.log", enc("planted\n"));
    });
    const r = runAod(["bundles", "verify", out]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("missing  dmesg.log: listed in the manifest (16 B), not in the archive");
    expect(r.stdout).toContain("extra    extra.log: in the archive (8 B), not listed in the manifest");
  });

  test("a bundle of an older aod (no manifest.json): exit 1, saying it predates manifests", async () => {
    if (needsBinary()) return;
    const out = await edited(await aBundle(), (m) => m.delete(MANIFEST));
    const r = runAod(["bundles", "verify", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("has no manifest.json: it predates manifests");
    const j = runAod(["bundles", "verify", out, "--json"]);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, manifest: false });
  });

  test("garbage, an empty file, a plain tar, a missing file: exit 2", async () => {
    if (needsBinary()) return;
    const dir = tempDir();
    writeFileSync(join(dir, "garbage"), "this is not zstd\n".repeat(20));
    writeFileSync(join(dir, "empty"), "");
    writeFileSync(join(dir, "plain.tar"), await new Bun.Archive({ a: "b" }).bytes());
    writeFileSync(join(dir, "zstd-not-tar"), zstdCompress(enc("hello")));
    for (const f of ["garbage", "empty", "plain.tar", "zstd-not-tar", "absent"]) {
      const r = runAod(["bundles", "verify", join(dir, f)]);
      expect(r.code, `${f}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toStartWith(`aod: cannot read bundle ${join(dir, f)}`);
    }
  });

  test("--help says what is checked and that the archive's own sha256 is not in it", () => {
    if (needsBinary()) return;
    const r = runAod(["bundles", "verify", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("own sha256 cannot live inside it");
    expect(r.stdout).toContain("Examples:");
  });
});
