// Streaming zstd compression through the embedded libzstd. One worker thread
// inside libzstd (nbWorkers=1) keeps compression off the JS thread.
import { FFIType, type Pointer, ptr } from "bun:ffi";
import { openEmbedded } from "./embedded-libs";
import { NativeError } from "./errors";

const { ptr: P, i32, u32, u64, cstring } = FFIType;
const z = openEmbedded("libzstd.so.1", {
  ZSTD_versionString: { args: [], returns: cstring },
  ZSTD_createCCtx: { args: [], returns: P },
  ZSTD_freeCCtx: { args: [P], returns: u64 },
  ZSTD_CCtx_setParameter: { args: [P, i32, i32], returns: u64 },
  ZSTD_compressStream2: { args: [P, P, P, i32], returns: u64 },
  ZSTD_isError: { args: [u64], returns: u32 },
  ZSTD_getErrorName: { args: [u64], returns: cstring },
  ZSTD_CStreamOutSize: { args: [], returns: u64 },
  ZSTD_createDCtx: { args: [], returns: P },
  ZSTD_freeDCtx: { args: [P], returns: u64 },
  ZSTD_decompressStream: { args: [P, P, P], returns: u64 },
  ZSTD_DStreamOutSize: { args: [], returns: u64 },
});

export const zstdVersion = (): string => String(z.ZSTD_versionString());

const ZSTD_c_compressionLevel = 100;
const ZSTD_c_checksumFlag = 201;
const ZSTD_c_nbWorkers = 400;
const ZSTD_e_continue = 0;
const ZSTD_e_flush = 1;
const ZSTD_e_end = 2;

function check(call: string, rc: bigint): bigint {
  if (z.ZSTD_isError(rc)) throw new NativeError(call, 0, String(z.ZSTD_getErrorName(rc)));
  return rc;
}

export interface ZstdOptions {
  level?: number;
  /** Threads inside libzstd; 0 compresses on the calling thread. */
  workers?: number;
}

/**
 * A zstd frame written piece by piece. push() returns compressed bytes ready
 * so far; end() returns the rest. free() releases the context (end() does too).
 */
export class ZstdCompressor {
  private cctx: Pointer | null;
  private readonly out: Uint8Array;
  // ZSTD_inBuffer { src, size, pos } and ZSTD_outBuffer { dst, size, pos }.
  private readonly inBuf = new BigUint64Array(3);
  private readonly outBuf = new BigUint64Array(3);

  constructor({ level = 3, workers = 1 }: ZstdOptions = {}) {
    const c = z.ZSTD_createCCtx();
    if (!c) throw new NativeError("ZSTD_createCCtx", 12);
    this.cctx = c;
    try {
      check("set zstd level", z.ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level));
      check("set zstd checksum", z.ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1));
      // A libzstd built without threads refuses workers: then compress inline.
      if (workers > 0 && z.ZSTD_isError(z.ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, workers))) {
      }
    } catch (e) {
      this.free();
      throw e;
    }
    this.out = new Uint8Array(Number(z.ZSTD_CStreamOutSize()));
    this.outBuf[0] = BigInt(ptr(this.out));
    this.outBuf[1] = BigInt(this.out.length);
  }

  private run(input: Uint8Array, mode: number): Uint8Array[] {
    if (!this.cctx) throw new Error("zstd compressor already finished");
    const chunks: Uint8Array[] = [];
    const empty = input.length === 0;
    this.inBuf[0] = empty ? 0n : BigInt(ptr(input));
    this.inBuf[1] = BigInt(input.length);
    this.inBuf[2] = 0n;
    for (;;) {
      this.outBuf[2] = 0n;
      const remaining = check("ZSTD_compressStream2", z.ZSTD_compressStream2(this.cctx, this.outBuf, this.inBuf, mode));
      const produced = Number(this.outBuf[2]);
      if (produced) chunks.push(this.out.slice(0, produced));
      const consumed = this.inBuf[2] === this.inBuf[1];
      if (mode === ZSTD_e_continue ? consumed : consumed && remaining === 0n) break;
    }
    return chunks;
  }

  push(input: Uint8Array): Uint8Array[] {
    return this.run(input, ZSTD_e_continue);
  }
  flush(): Uint8Array[] {
    return this.run(new Uint8Array(0), ZSTD_e_flush);
  }
  end(input: Uint8Array = new Uint8Array(0)): Uint8Array[] {
    try {
      return this.run(input, ZSTD_e_end);
    } finally {
      this.free();
    }
  }
  free(): void {
    if (this.cctx) z.ZSTD_freeCCtx(this.cctx);
    this.cctx = null;
  }
}

/** Compresses a whole buffer into one frame. */
export function zstdCompress(data: Uint8Array, opts?: ZstdOptions): Uint8Array {
  const c = new ZstdCompressor(opts);
  return Buffer.concat([...c.push(data), ...c.end()]);
}

/** Decompresses every frame of `data`; refuses to grow past maxBytes. */
export function zstdDecompress(data: Uint8Array, maxBytes = 1 << 30): Uint8Array {
  const d = z.ZSTD_createDCtx();
  if (!d) throw new NativeError("ZSTD_createDCtx", 12);
  try {
    const out = new Uint8Array(Number(z.ZSTD_DStreamOutSize()));
    const inBuf = new BigUint64Array([BigInt(ptr(data)), BigInt(data.length), 0n]);
    const outBuf = new BigUint64Array([BigInt(ptr(out)), BigInt(out.length), 0n]);
    const chunks: Uint8Array[] = [];
    let total = 0;
    let last = 0n;
    while (inBuf[2]! < inBuf[1]! || outBuf[2] === outBuf[1]) {
      outBuf[2] = 0n;
      last = check("ZSTD_decompressStream", z.ZSTD_decompressStream(d, outBuf, inBuf));
      const n = Number(outBuf[2]);
      if (n) chunks.push(out.slice(0, n));
      total += n;
      if (total > maxBytes) throw new Error(`decompressed data exceeds ${maxBytes} bytes`);
      if (n === 0 && inBuf[2] === inBuf[1]) break;
    }
    if (last !== 0n) throw new Error("truncated zstd data");
    return Buffer.concat(chunks);
  } finally {
    z.ZSTD_freeDCtx(d);
  }
}
