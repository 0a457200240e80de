import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ZstdCompressor, zstdCompress, zstdVersion } from "../../src/native/zstd";
import { skipReason, tempDir } from "../helpers";

const zstdCli = Bun.which("zstd");

function decompressWithCli(data: Uint8Array): Buffer {
  const f = join(tempDir(), "x.zst");
  require("node:fs").writeFileSync(f, data);
  const r = Bun.spawnSync(["zstd", "-dc", f]);
  if (r.exitCode !== 0) throw new Error(`zstd -d failed: ${r.stderr}`);
  return r.stdout as Buffer;
}

describe("zstd (embedded libzstd)", () => {
  test("reports its version", () => {
    expect(zstdVersion()).toMatch(/^1\.\d+\.\d+$/);
  });
  test("one-shot round trip through the zstd CLI", () => {
    if (skipReason({ "zstd CLI not installed": !zstdCli })) return;
    const input = Buffer.from(
      Array.from({ length: 5000 }, (_, i) => `line ${i} CIFS: VFS: \\\\srv\\share reconnect\n`).join(""),
    );
    const out = zstdCompress(input, { level: 3 });
    expect(out.length).toBeLessThan(input.length / 5);
    expect(decompressWithCli(out).equals(input)).toBe(true);
  });
  test("streaming in pieces, with flush, equals the input (random data too)", () => {
    if (skipReason({ "zstd CLI not installed": !zstdCli })) return;
    const parts = [
      Buffer.from("header\n"),
      Buffer.from(crypto.getRandomValues(new Uint8Array(300_000))),
      Buffer.alloc(2_000_000, 97),
      Buffer.from("end\n"),
    ];
    const c = new ZstdCompressor({ level: 5, workers: 1 });
    const chunks: Uint8Array[] = [];
    for (const p of parts) chunks.push(...c.push(p));
    chunks.push(...c.flush());
    chunks.push(...c.end());
    expect(decompressWithCli(Buffer.concat(chunks)).equals(Buffer.concat(parts))).toBe(true);
  });
  test("empty input makes a valid empty frame", () => {
    if (skipReason({ "zstd CLI not installed": !zstdCli })) return;
    expect(decompressWithCli(zstdCompress(new Uint8Array(0))).length).toBe(0);
  });
  test("a bad level is an error with zstd's message, not a crash", () => {
    expect(() => new ZstdCompressor({ level: 1000 })).not.toThrow(); // zstd clamps levels
    const c = new ZstdCompressor();
    c.end();
    expect(() => c.push(new Uint8Array(1))).toThrow(/already finished/);
  });
});
