// The S3 target against a real S3-compatible server (s3rver under node, with
// a front that verifies SigV4, body hashes and conditional writes as S3 does:
// see ./s3rver.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { bytesBody, Pacer } from "../../src/upload/body";
import { bucketUrl, objectUrl, type S3Options, s3Target } from "../../src/upload/s3";
import { type PutRequest, UploadError, type UploadTarget } from "../../src/upload/target";
import { type S3rver, s3rverUnavailable, startS3rver } from "./s3rver";

const skip = s3rverUnavailable();
if (skip) console.warn(`SKIP test/upload/s3: ${skip}`);

let srv: S3rver;
let n = 0;

beforeAll(async () => {
  if (!skip) srv = await startS3rver();
});
afterAll(async () => {
  await srv?.close();
});

function options(s: S3rver, over: Partial<S3Options> = {}): S3Options {
  return {
    endpoint: s.endpoint,
    bucket: s.bucket,
    region: s.region,
    path_style: true,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    ...over,
  };
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const uniqueKey = (name = "bundle.tar.zst") => `aod/v1/host${++n}/2025-01-02/${name}`;

function request(key: string, bytes: Uint8Array, pacer?: Pacer): PutRequest {
  return {
    key,
    body: bytesBody(bytes, pacer),
    contentType: "application/zstd",
    metadata: { sha256: sha256(bytes), "aod-type": "anomaly" },
  };
}

function randomBytes(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(b.subarray(off, Math.min(size, off + 65536)));
  return b;
}

/** The UploadError a promise rejects with (fails the test if it resolves or throws something else). */
async function failure(p: Promise<unknown>): Promise<UploadError> {
  const e = await p.then(
    (v) => new Error(`resolved with ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
  if (!(e instanceof UploadError)) throw e;
  return e;
}

describe.skipIf(!!skip)("s3 target against s3rver", () => {
  let target: UploadTarget;
  beforeAll(() => {
    target = s3Target(options(srv));
  });

  test("put stores the object once, with its sha256 metadata, checksums and Content-Length, all signed", async () => {
    const key = uniqueKey();
    const bytes = randomBytes(5000);
    const before = srv.requests().length;
    expect(await target.put(request(key, bytes))).toBe("created");

    const stored = srv.getObject(key)!;
    expect(stored.bytes).toEqual(bytes);
    expect(stored.metadata.sha256).toBe(sha256(bytes));
    expect(stored.metadata["aod-type"]).toBe("anomaly");
    expect(stored.contentType).toBe("application/zstd");
    expect(await target.get(key)).toEqual(bytes);

    const reqs = srv.requests().slice(before);
    expect(reqs.map((r) => `${r.method} ${r.status}`)).toEqual(["HEAD 404", "PUT 200", "GET 200"]);
    const put = reqs[1]!;
    expect(put.headers["content-length"]).toBe("5000");
    expect(put.headers["transfer-encoding"]).toBeUndefined();
    expect(put.headers["if-none-match"]).toBe("*");
    expect(put.headers["x-amz-content-sha256"]).toBe(sha256(bytes));
    expect(put.headers["x-amz-checksum-sha256"]).toBe(Buffer.from(sha256(bytes), "hex").toString("base64"));
    expect(put.headers["content-md5"]).toBe(createHash("md5").update(bytes).digest("base64"));
    for (const h of [
      "host",
      "content-md5",
      "if-none-match",
      "x-amz-checksum-sha256",
      "x-amz-content-sha256",
      "x-amz-date",
      "x-amz-meta-sha256",
      "x-amz-meta-aod-type",
    ])
      expect(put.signedHeaders).toContain(h);
  });

  test("the same put again is 'exists' without a second write; other bytes under the key are a conflict", async () => {
    const key = uniqueKey();
    const bytes = randomBytes(3000);
    expect(await target.put(request(key, bytes))).toBe("created");
    const first = srv.getObject(key)!.modified;
    const before = srv.requests().length;

    expect(await target.put(request(key, bytes))).toBe("exists");
    expect(
      srv
        .requests()
        .slice(before)
        .map((r) => r.method),
    ).toEqual(["HEAD"]);
    expect(srv.getObject(key)!.modified).toEqual(first);

    const e = await failure(target.put(request(key, randomBytes(3000))));
    expect(e.failure).toBe("conflict");
    expect(e.breaks).toBe(false);
    expect(srv.getObject(key)!.bytes).toEqual(bytes);
  });

  test("keys with characters SigV4 encodes, and an empty object", async () => {
    const key = uniqueKey("a b+c!'()*~é%20;=&$@,[].tar.zst");
    const bytes = randomBytes(100);
    expect(await target.put(request(key, bytes))).toBe("created");
    expect(srv.listKeys()).toContain(key);
    expect(await target.get(key)).toEqual(bytes);

    const empty = uniqueKey("empty.json");
    expect(await target.put(request(empty, new Uint8Array(0)))).toBe("created");
    expect(srv.getObject(empty)!.bytes.length).toBe(0);
    expect(await target.put(request(empty, new Uint8Array(0)))).toBe("exists");
  });

  test("virtual-hosted style: bucket.endpoint-host/key", async () => {
    const t = s3Target(options(srv, { endpoint: srv.vhostEndpoint, path_style: false }));
    expect(t.where).toBe(`http://${srv.bucket}.s3.localhost:${srv.port}`);
    const key = uniqueKey();
    const bytes = randomBytes(2000);
    const before = srv.requests().length;
    expect(await t.put(request(key, bytes))).toBe("created");
    expect(await t.get(key)).toEqual(bytes);
    expect(srv.getObject(key)!.bytes).toEqual(bytes);
    const put = srv.requests().slice(before)[1]!;
    expect(put.headers.host).toBe(`${srv.bucket}.s3.localhost:${srv.port}`);
    expect(put.url.startsWith(`/${srv.bucket}/`)).toBe(false);
  });

  test("authenticate checks the static keys are there; a wrong secret or key id is an auth failure (403)", async () => {
    await target.authenticate();
    const blank = s3Target(options(srv, { credentials: { accessKeyId: srv.accessKeyId, secretAccessKey: "" } }));
    expect((await failure(blank.authenticate())).failure).toBe("auth");

    const key = uniqueKey();
    const wrongSecret = s3Target(
      options(srv, { credentials: { accessKeyId: srv.accessKeyId, secretAccessKey: `${srv.secretAccessKey}x` } }),
    );
    let e = await failure(wrongSecret.put(request(key, randomBytes(100))));
    expect([e.failure, e.status, e.code]).toEqual(["auth", 403, "SignatureDoesNotMatch"]);
    expect(e.breaks).toBe(true);
    expect(e.message).not.toContain(srv.secretAccessKey);

    const wrongId = s3Target(options(srv, { credentials: { accessKeyId: "AKIANOBODY", secretAccessKey: "x" } }));
    e = await failure(wrongId.put(request(key, randomBytes(100))));
    expect([e.failure, e.status, e.code]).toEqual(["auth", 403, "InvalidAccessKeyId"]);
    e = await failure(wrongId.get(key));
    expect([e.failure, e.status]).toEqual(["auth", 403]);
    expect(srv.listKeys()).not.toContain(key);
  });

  test("a missing bucket is not_found, for put and get", async () => {
    const t = s3Target(options(srv, { bucket: "no-such-bucket" }));
    let e = await failure(t.put(request(uniqueKey(), randomBytes(100))));
    expect([e.failure, e.status, e.code]).toEqual(["not_found", 404, "NoSuchBucket"]);
    e = await failure(t.get("x"));
    expect([e.failure, e.code]).toEqual(["not_found", "NoSuchBucket"]);
  });

  test("a wrong region is refused by the signature's scope (client)", async () => {
    const t = s3Target(options(srv, { region: "us-west-2" }));
    const e = await failure(t.put(request(uniqueKey(), randomBytes(100))));
    expect([e.failure, e.status, e.code]).toEqual(["client", 400, "AuthorizationHeaderMalformed"]);
  });

  test("a paced upload (4 Mbit/s, 1 MiB) takes its time and arrives intact with Content-Length", async () => {
    const key = uniqueKey();
    const bytes = randomBytes(1 << 20);
    const before = srv.requests().length;
    const t0 = performance.now();
    expect(await target.put(request(key, bytes, Pacer.fromMbps(4)))).toBe("created");
    const sec = (performance.now() - t0) / 1000;
    expect(sec).toBeGreaterThanOrEqual(1.8);
    expect(sec).toBeLessThan(10);
    expect(sha256(srv.getObject(key)!.bytes)).toBe(sha256(bytes));
    const put = srv.requests().slice(before)[1]!;
    expect(put.headers["content-length"]).toBe(String(1 << 20));
    expect(put.headers["transfer-encoding"]).toBeUndefined();
    expect(put.bodyBytes).toBe(1 << 20);
  });

  test("two puts of one key at once: the first to finish creates, the other's conditional put gets 412", async () => {
    const bytes = randomBytes(1 << 20);
    const key = uniqueKey();
    // The slow one HEADs first and is still sending when the fast one starts and finishes.
    const slow = target.put(request(key, bytes, Pacer.fromMbps(8)));
    await Bun.sleep(300);
    expect(await target.put(request(key, bytes))).toBe("created");
    expect(await slow).toBe("exists");
    expect(srv.getObject(key)!.bytes).toEqual(bytes);

    const other = uniqueKey();
    const slowOther = target.put(request(other, randomBytes(1 << 20), Pacer.fromMbps(8)));
    await Bun.sleep(300);
    expect(await target.put(request(other, bytes))).toBe("created");
    expect((await failure(slowOther)).failure).toBe("conflict");
    expect(srv.getObject(other)!.bytes).toEqual(bytes);
    expect(srv.requests().filter((r) => r.method === "PUT" && r.status === 412).length).toBe(2);
  });

  // Last: it stops and restarts the shared server.
  test("the server stopped mid-upload: a network failure, nothing stored; after a restart the put stores it once", async () => {
    const key = uniqueKey();
    const bytes = randomBytes(1 << 20);
    // failure() handles the rejection at once: it comes while stop() is still waiting for the exit.
    const put = failure(target.put(request(key, bytes, Pacer.fromMbps(4))));
    await Bun.sleep(500);
    await srv.stop();
    const e = await put;
    expect(e.failure).toBe("network");
    expect(e.retryable).toBe(true);
    expect(srv.listKeys()).not.toContain(key);

    expect((await failure(target.put(request(key, bytes)))).failure).toBe("network");

    await srv.restart();
    expect(await target.put(request(key, bytes))).toBe("created");
    expect(await target.put(request(key, bytes))).toBe("exists");
    expect(sha256(srv.getObject(key)!.bytes)).toBe(sha256(bytes));
    const puts = srv.requests().filter((r) => r.method === "PUT" && r.url === `/${srv.bucket}/${key}`);
    expect(puts.map((r) => r.status)).toEqual([200]);
  });
});

describe.skipIf(!!skip)("s3 target: session tokens, write-only keys, clock skew", () => {
  test("a session token is sent and signed (temporary credentials)", async () => {
    const s = await startS3rver({ sessionToken: "FwoGZXIvYXdzEXAMPLETOKEN" });
    try {
      const t = s3Target(
        options(s, {
          credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, sessionToken: s.sessionToken },
        }),
      );
      const key = uniqueKey();
      expect(await t.put(request(key, randomBytes(100)))).toBe("created");
      const put = s.requests().find((r) => r.method === "PUT")!;
      expect(put.signedHeaders).toContain("x-amz-security-token");
      // Without it the server refuses (InvalidToken, a 400 as on S3).
      const e = await failure(s3Target(options(s)).put(request(uniqueKey(), randomBytes(100))));
      expect([e.status, e.code]).toEqual([400, "InvalidToken"]);
    } finally {
      await s.close();
    }
  });

  test("a write-only key (put, no read): uploads, and a repeated put counts as done; get is permission", async () => {
    const s = await startS3rver({ writeOnly: true });
    try {
      const t = s3Target(options(s));
      const key = uniqueKey();
      const bytes = randomBytes(500);
      expect(await t.put(request(key, bytes))).toBe("created");
      expect(s.getObject(key)!.bytes).toEqual(bytes);
      const before = s.requests().length;
      // HEAD and the GET that asks why both get 403; the create-only put's 412 says the key is there.
      expect(await t.put(request(key, bytes))).toBe("exists");
      expect(
        s
          .requests()
          .slice(before)
          .map((r) => `${r.method} ${r.status}`),
      ).toEqual(["HEAD 403", "GET 403", "PUT 412", "HEAD 403", "GET 403"]);
      const e = await failure(t.get(key));
      expect([e.failure, e.status, e.code]).toEqual(["permission", 403, "AccessDenied"]);
    } finally {
      await s.close();
    }
  });

  test("a server whose clock is an hour off: clock_skew", async () => {
    const s = await startS3rver({ skewSec: 3600 });
    try {
      const e = await failure(s3Target(options(s)).put(request(uniqueKey(), randomBytes(100))));
      expect([e.failure, e.code]).toEqual(["clock_skew", "RequestTimeTooSkewed"]);
      expect(e.retryable).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe("s3 URLs", () => {
  const o = { endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: "b", path_style: true };
  test("path style and virtual-hosted, segments encoded once", () => {
    expect(objectUrl(o, "aod/v1/x y/é+.tar")).toBe("https://s3.eu-west-1.amazonaws.com/b/aod/v1/x%20y/%C3%A9%2B.tar");
    expect(objectUrl({ ...o, path_style: false }, "a/b")).toBe("https://b.s3.eu-west-1.amazonaws.com/a/b");
    expect(bucketUrl({ ...o, endpoint: "http://gw:9000/s3/" })).toBe("http://gw:9000/s3/b");
    expect(objectUrl(o, "a/%2F")).toBe("https://s3.eu-west-1.amazonaws.com/b/a/%252F");
  });
  test("refused: dot segments, a leading slash, virtual-hosted on an IP, a non-http endpoint", () => {
    for (const k of ["a/../b", "./a", "/a", ""]) expect(() => objectUrl(o, k)).toThrow(UploadError);
    expect(() => bucketUrl({ ...o, endpoint: "http://127.0.0.1:9000", path_style: false })).toThrow(/path_style/);
    expect(() => bucketUrl({ ...o, endpoint: "ftp://x" })).toThrow(/http/);
  });
});
