// Upload bodies: a file or bytes with their hashes, and the pacing that keeps
// all uploads of a host under upload.max_mbps (one token bucket for the lane).
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import type { UploadBody } from "./target";

/** A token bucket in bytes per second; undefined rate = no cap. Shared by every upload of the lane. */
export class Pacer {
  private tokens: number;
  private last = performance.now();
  /** Most one wait may take: a burst of 1/4 s at the cap. */
  private readonly burst: number;
  constructor(readonly bytesPerSec?: number) {
    this.burst = bytesPerSec ? Math.max(16384, bytesPerSec / 4) : 0;
    this.tokens = this.burst;
  }

  static fromMbps(mbps?: number): Pacer {
    return new Pacer(mbps ? (mbps * 1_000_000) / 8 : undefined);
  }

  /** Waits until n bytes may go. */
  async take(n: number): Promise<void> {
    const rate = this.bytesPerSec;
    if (!rate) return;
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * rate);
      this.last = now;
      if (this.tokens >= n || (this.tokens >= this.burst && n > this.burst)) {
        this.tokens -= n;
        return;
      }
      await Bun.sleep(Math.max(1, ((Math.min(n, this.burst) - this.tokens) / rate) * 1000));
    }
  }
}

/** Chunks a paced stream is cut into. */
const CHUNK = 16384;

/** Bytes as a stream that a pacer lets through chunk by chunk. */
export function pacedStream(bytes: Uint8Array, pacer: Pacer): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (off >= bytes.length) return c.close();
      const n = Math.min(CHUNK, bytes.length - off);
      await pacer.take(n);
      c.enqueue(bytes.subarray(off, off + n));
      off += n;
    },
  });
}

const paceWith =
  (pacer: Pacer) =>
  (bytes: Uint8Array): BodyInit =>
    pacer.bytesPerSec ? pacedStream(bytes, pacer) : (bytes as Uint8Array<ArrayBuffer>);

/** Bytes in memory (sidecars, probes). */
export function bytesBody(bytes: Uint8Array, pacer: Pacer = new Pacer()): UploadBody {
  return {
    size: bytes.length,
    sha256Hex: createHash("sha256").update(bytes).digest("hex"),
    md5Base64: createHash("md5").update(bytes).digest("base64"),
    bytesPerSec: pacer.bytesPerSec,
    read: async (s, e) => bytes.subarray(s, e),
    paced: paceWith(pacer),
  };
}

/**
 * A file, hashed once as it is now (read in 1 MiB steps so a large bundle does
 * not hold the event loop). Bundles are immutable once linked, so the hashes
 * stay true for the reads that follow.
 */
export async function fileBody(path: string, pacer: Pacer = new Pacer()): Promise<UploadBody> {
  const fh = await open(path, "r");
  try {
    const sha = createHash("sha256");
    const md5 = createHash("md5");
    const buf = new Uint8Array(1 << 20);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, size);
      if (!bytesRead) break;
      sha.update(buf.subarray(0, bytesRead));
      md5.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return {
      size,
      sha256Hex: sha.digest("hex"),
      md5Base64: md5.digest("base64"),
      bytesPerSec: pacer.bytesPerSec,
      read: async (start, end) => {
        const f = await open(path, "r");
        try {
          const out = new Uint8Array(end - start);
          let got = 0;
          while (got < out.length) {
            const { bytesRead } = await f.read(out, got, out.length - got, start + got);
            if (!bytesRead) throw new Error(`${path} shrank while uploading (${start + got} of ${size} bytes)`);
            got += bytesRead;
          }
          return out;
        } finally {
          await f.close();
        }
      },
      paced: paceWith(pacer),
    };
  } finally {
    await fh.close();
  }
}
