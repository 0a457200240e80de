import { describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ensureOutputDir } from "../../src/bundle/output-dir";
import { listBundles, openBundle } from "../../src/bundle/read";
import { writeBundle } from "../../src/bundle/write";
import { isRoot, skipReason, tempDir } from "../helpers";

function untar(path: string): Record<string, string> {
  const out = tempDir("aod-untar-");
  const r = Bun.spawnSync(["sh", "-c", `zstd -dc '${path}' | tar -x -C '${out}'`]);
  expect(r.exitCode).toBe(0);
  return Object.fromEntries(readdirSync(out).map((f) => [f, require("node:fs").readFileSync(join(out, f), "utf8")]));
}

describe("bundles", () => {
  test("members at the archive root, readable with the zstd CLI and tar, mode 0600", async () => {
    const dir = ensureOutputDir(tempDir());
    const { path, bytes } = await writeBundle(
      dir,
      1764000000123456789n,
      [
        { name: "dmesg.log", data: "kernel says hi\n" },
        { name: "anomaly.json", data: '{"type":"latency"}' },
      ],
      3,
    );
    expect(path).toEndWith("aod_quick_1764000000123456789.tar.zst");
    expect(statSync(path).size).toBe(bytes);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const files = untar(path);
    expect(Object.keys(files).sort()).toEqual(["anomaly.json", "dmesg.log", "manifest.json"]);
    expect(files["dmesg.log"]).toBe("kernel says hi\n");
    const opened = await openBundle(path);
    expect(opened.anomaly).toEqual({ type: "latency" });
  });

  test("two bundles in the same nanosecond get different names", async () => {
    const dir = ensureOutputDir(tempDir());
    const [a, b] = await Promise.all([
      writeBundle(dir, 5n, [{ name: "x", data: "1" }], 1),
      writeBundle(dir, 5n, [{ name: "x", data: "2" }], 1),
    ]);
    expect(a.path).not.toBe(b.path);
    expect(listBundles(dir).length).toBe(2);
  });

  test("a name another process already took is never overwritten: the next one is used", async () => {
    const dir = ensureOutputDir(tempDir());
    writeFileSync(join(dir, "aod_quick_500.tar.zst"), "someone else's");
    const w = await writeBundle(dir, 500n, [{ name: "a", data: "a" }], 1);
    expect(w.path).toBe(join(dir, "aod_quick_501.tar.zst"));
    expect(readFileSync(join(dir, "aod_quick_500.tar.zst"), "utf8")).toBe("someone else's");
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  test("an aborted write leaves no file at all, not even the temporary one", async () => {
    const dir = ensureOutputDir(tempDir());
    const ac = new AbortController();
    ac.abort();
    await expect(writeBundle(dir, 7n, [{ name: "big", data: new Uint8Array(3 << 20) }], 1, ac.signal)).rejects.toThrow(
      /aborted/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  test("output dir: created 0700, symlinks and foreign owners refused", () => {
    const base = tempDir();
    const batches = ensureOutputDir(join(base, "out"));
    expect(lstatSync(join(base, "out")).mode & 0o777).toBe(0o700);
    expect(lstatSync(batches).mode & 0o777).toBe(0o700);
    symlinkSync(join(base, "out"), join(base, "link"));
    expect(() => ensureOutputDir(join(base, "link"))).toThrow(/symlink/);
    if (skipReason({ "foreign-owner check needs root to chown": !isRoot })) return;
    mkdirSync(join(base, "foreign"));
    require("node:fs").chownSync(join(base, "foreign"), 65534, 65534);
    expect(() => ensureOutputDir(join(base, "foreign"))).toThrow(/owned by uid 65534/);
  });

  test("listBundles ignores temporary and foreign files and sorts newest first", async () => {
    const dir = ensureOutputDir(tempDir());
    await writeBundle(dir, 100n, [{ name: "a", data: "a" }], 1);
    await writeBundle(dir, 300n, [{ name: "a", data: "a" }], 1);
    writeFileSync(join(dir, ".aod_quick_200.tar.zst.1.tmp"), "partial");
    writeFileSync(join(dir, "notes.txt"), "mine");
    expect(listBundles(dir).map((b) => b.ns)).toEqual([300n, 100n]);
    void chmodSync;
    void existsSync;
  });
});
