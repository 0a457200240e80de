// The Azure Blob target against a real Azurite: SAS and managed identity
// (a fake IMDS, Azurite's basic OAuth over HTTPS with a self-signed CA given
// as ca_file), create-only puts, blocks, failures as kinds, pacing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AzureBlobOptions, azureBlobTarget } from "../../src/upload/azure-blob";
import { bytesBody, Pacer } from "../../src/upload/body";
import { type PutRequest, type UploadBody, UploadError } from "../../src/upload/target";
import { tempDir } from "../helpers";
import { type Azurite, azuriteMissing, type FakeImds, freePort, makeSas, startAzurite, startFakeImds } from "./azurite";

const missing = azuriteMissing({ https: true });
if (missing) test.skip(`azure blob target: ${missing}`, () => {});

const KiB = 1024;
const MiB = 1024 * KiB;

function request(key: string, body: UploadBody, extra: Record<string, string> = {}): PutRequest {
  return {
    key,
    body,
    contentType: "application/zstd",
    metadata: { sha256: body.sha256Hex, ...extra },
  };
}

/** The UploadError a promise rejects with (fails the test if it resolves or throws something else). */
async function failure(p: Promise<unknown>): Promise<UploadError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UploadError);
    return e as UploadError;
  }
  throw new Error("expected an UploadError, but it succeeded");
}

/** Azurite logs a request after answering it: the log's length once nothing new came for 150 ms. */
async function settled(az: Azurite): Promise<number> {
  let n = az.requests().length;
  for (let quiet = 0; quiet < 3; ) {
    await Bun.sleep(50);
    const m = az.requests().length;
    quiet = m === n ? quiet + 1 : 0;
    n = m;
  }
  return n;
}

/** The requests logged since `from` (a settled() length), once the log has settled. */
async function requestsSince(az: Azurite, from: number) {
  await settled(az);
  return az.requests().slice(from);
}

test("account URLs: host-style or path-style, never a secret in where", () => {
  const sas = { container: "bundles", auth: "sas" as const, sas_token_file: "/nonexistent" };
  expect(azureBlobTarget({ ...sas, account_url: "https://acct.blob.core.windows.net/" }).where).toBe(
    "https://acct.blob.core.windows.net/bundles",
  );
  expect(azureBlobTarget({ ...sas, account_url: "https://127.0.0.1:10000/devstoreaccount1" }).where).toBe(
    "https://127.0.0.1:10000/devstoreaccount1/bundles",
  );
  expect(() => azureBlobTarget({ ...sas, account_url: "https://acct.blob.core.windows.net/?sv=1&sig=secret" })).toThrow(
    "must not carry a query",
  );
  expect(() =>
    azureBlobTarget({ container: "b", auth: "managed_identity", account_url: "http://acct.blob.core.windows.net" }),
  ).toThrow("https://");
});

describe.skipIf(!!missing)("azure blob over HTTP with SAS", () => {
  let az: Azurite;
  let dir: string;
  const sasFile = (name: string, sas: string) => {
    const f = join(dir, name);
    writeFileSync(f, `?${sas}\n`);
    return f;
  };
  let opts: AzureBlobOptions;

  beforeAll(async () => {
    az = await startAzurite();
    dir = tempDir("aod-azure-test-");
    await az.createContainer("bundles");
    opts = {
      account_url: az.url,
      container: "bundles",
      auth: "sas",
      sas_token_file: sasFile("rcw.sas", makeSas({ container: "bundles" })),
    };
  });
  afterAll(async () => {
    await az?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("put creates, the same put again is 'exists', other bytes are a conflict", async () => {
    const t = azureBlobTarget(opts);
    expect(t.kind).toBe("azure_blob");
    expect(t.where).toBe(`${az.url}/bundles`);
    await t.authenticate();
    const bytes = randomBytes(5000);
    const key = "aod/v1/h0st/2026-01-02/aod_20260102T030405Z_latency.tar.zst";
    expect(await t.put(request(key, bytesBody(bytes), { kind: "bundle" }))).toBe("created");

    const blob = await az.getBlob("bundles", key);
    expect(Buffer.from(blob!.bytes).equals(bytes)).toBe(true);
    expect(blob!.metadata).toEqual({ sha256: bytesBody(bytes).sha256Hex, kind: "bundle" });
    expect(Buffer.from(await t.get(key)).equals(bytes)).toBe(true);

    const before = await settled(az);
    expect(await t.put(request(key, bytesBody(bytes)))).toBe("exists");
    // One create-only PUT refused with 409, one HEAD to compare the sha256.
    const seen = await requestsSince(az, before);
    expect(seen.map((r) => `${r.method} ${r.status}`)).toEqual(["PUT 409", "HEAD 200"]);

    const e = await failure(t.put(request(key, bytesBody(randomBytes(5000)))));
    expect(e.failure).toBe("conflict");
    expect(e.message).toContain("already exists with other content");
    // The first upload is untouched.
    expect(Buffer.from((await az.getBlob("bundles", key))!.bytes).equals(bytes)).toBe(true);
  });

  test("a body damaged on the way (Content-MD5 mismatch) is a retryable server failure", async () => {
    const t = azureBlobTarget(opts);
    const body = { ...bytesBody(randomBytes(100)), md5Base64: bytesBody(new Uint8Array([1])).md5Base64 };
    const e = await failure(t.put(request("damaged", body)));
    expect(e.failure).toBe("server");
    expect(e.retryable).toBe(true);
    expect(await az.getBlob("bundles", "damaged")).toBeUndefined();
  });

  test("blocks of a file that changed while uploading are not committed", async () => {
    const t = azureBlobTarget({ ...opts, singlePutMax: 1000, blockSize: 1000 });
    const inner = bytesBody(randomBytes(2500));
    const changed: UploadBody = {
      ...inner,
      read: async (s, e) => {
        const b = new Uint8Array(await inner.read(s, e));
        if (s === 1000) b[0]! ^= 1;
        return b;
      },
    };
    const e = await failure(t.put(request("changed", changed)));
    expect(e.message).toContain("changed while uploading");
    expect(e.retryable).toBe(false);
    expect(await az.getBlob("bundles", "changed")).toBeUndefined();
  });

  test("keys keep their '/' and have every segment encoded", async () => {
    const t = azureBlobTarget(opts);
    const key = "aod/v1/a b/2026-01-02/bündle #1+%.tar.zst";
    expect(await t.put(request(key, bytesBody(new Uint8Array([1, 2, 3]))))).toBe("created");
    expect(await az.listBlobs("bundles")).toContain(key);
    expect([...(await t.get(key))]).toEqual([1, 2, 3]);
  });

  test("an empty object is one put", async () => {
    const t = azureBlobTarget(opts);
    expect(await t.put(request("empty", bytesBody(new Uint8Array())))).toBe("created");
    expect((await az.getBlob("bundles", "empty"))!.bytes.length).toBe(0);
  });

  test("above singlePutMax the object goes in blocks and round-trips byte-exact", async () => {
    const t = azureBlobTarget({ ...opts, singlePutMax: MiB, blockSize: 256 * KiB });
    const bytes = randomBytes(MiB + 100 * KiB); // 5 blocks, the last one short
    const body = bytesBody(bytes);
    const key = "aod/v1/h/2026-01-02/large.tar.zst";
    const before = await settled(az);
    expect(await t.put(request(key, body))).toBe("created");
    const seen = await requestsSince(az, before);
    expect(seen.filter((r) => r.method === "PUT" && r.target.includes("comp=block&")).length).toBe(5);
    expect(seen.filter((r) => r.target.includes("comp=blocklist") && r.method === "PUT").length).toBe(1);

    const blob = await az.getBlob("bundles", key);
    expect(Buffer.from(blob!.bytes).equals(bytes)).toBe(true);
    expect(blob!.metadata.sha256).toBe(body.sha256Hex);
    expect(Buffer.from(await t.get(key)).equals(bytes)).toBe(true);

    // Again: the HEAD finds it, no block is sent.
    const again = await settled(az);
    expect(await t.put(request(key, bytesBody(bytes)))).toBe("exists");
    const seen2 = await requestsSince(az, again);
    expect(seen2.map((r) => r.method)).toEqual(["HEAD"]);

    // Other bytes under that key: a conflict, found before sending anything.
    const e = await failure(t.put(request(key, bytesBody(randomBytes(MiB + 1)))));
    expect(e.failure).toBe("conflict");
  });

  test("a block upload that failed halfway resumes with the blocks still missing", async () => {
    const t = azureBlobTarget({ ...opts, singlePutMax: 256 * KiB, blockSize: 128 * KiB });
    const bytes = randomBytes(640 * KiB); // 5 blocks
    const inner = bytesBody(bytes);
    let failed = false;
    const flaky: UploadBody = {
      ...inner,
      read: async (s, e) => {
        if (!failed && s >= 3 * 128 * KiB) {
          failed = true;
          throw new Error("disk went away");
        }
        return inner.read(s, e);
      },
    };
    const key = "aod/v1/h/2026-01-02/resumed.tar.zst";
    await expect(t.put(request(key, flaky))).rejects.toThrow("disk went away");
    expect(await az.getBlob("bundles", key)).toBeUndefined();

    const before = await settled(az);
    expect(await t.put(request(key, flaky))).toBe("created");
    const seen = await requestsSince(az, before);
    // HEAD 404, the uncommitted list, blocks 3 and 4, the block list.
    expect(seen.filter((r) => r.method === "PUT" && r.target.includes("comp=block&")).length).toBe(2);
    expect(Buffer.from((await az.getBlob("bundles", key))!.bytes).equals(bytes)).toBe(true);
  });

  test("a container that does not exist is not_found", async () => {
    const nosuch = {
      ...opts,
      container: "nosuch",
      sas_token_file: sasFile("nosuch.sas", makeSas({ container: "nosuch" })),
    };
    const t = azureBlobTarget(nosuch);
    const e = await failure(t.put(request("k", bytesBody(new Uint8Array(10)))));
    expect(e.failure).toBe("not_found");
    expect(e.status).toBe(404);
    expect(e.code).toBe("ContainerNotFound");
    expect(e.breaks).toBe(true);
    // The large path's first request (HEAD) says so too.
    const big = azureBlobTarget({ ...nosuch, singlePutMax: 4 });
    expect((await failure(big.put(request("k", bytesBody(new Uint8Array(10)))))).failure).toBe("not_found");
  });

  test("a SAS with a bad signature is auth (403), and the error never shows the token", async () => {
    const sas = makeSas({ container: "bundles", badSignature: true });
    const t = azureBlobTarget({ ...opts, sas_token_file: sasFile("bad.sas", sas) });
    await t.authenticate(); // the file is fine: only the server can tell
    const e = await failure(t.put(request("k2", bytesBody(new Uint8Array(10)))));
    expect(e.failure).toBe("auth");
    expect(e.status).toBe(403);
    expect(e.breaks).toBe(true);
    const sig = new URLSearchParams(sas).get("sig")!;
    expect(e.message).not.toContain(sig);
    expect(e.message).not.toContain(encodeURIComponent(sig));
    expect(e.message).toContain("bad.sas");
  });

  test("a write-only SAS uploads; reading back is permission; a repeated put counts as done", async () => {
    const writeOnly = {
      ...opts,
      sas_token_file: sasFile("wo.sas", makeSas({ container: "bundles", writeOnly: true })),
    };
    const t = azureBlobTarget(writeOnly);
    const bytes = randomBytes(1000);
    expect(await t.put(request("wo/one", bytesBody(bytes)))).toBe("created");
    expect(Buffer.from((await az.getBlob("bundles", "wo/one"))!.bytes).equals(bytes)).toBe(true);
    const e = await failure(t.get("wo/one"));
    expect(e.failure).toBe("permission");
    expect(e.code).toBe("AuthorizationPermissionMismatch");
    // 409 and no right to look: the create-only put of this key already happened.
    expect(await t.put(request("wo/one", bytesBody(bytes)))).toBe("exists");
    // Blocks without read: the existence check and resume list are skipped, the upload is not.
    const big = azureBlobTarget({ ...writeOnly, singlePutMax: 1000 });
    const large = randomBytes(3000);
    expect(await big.put(request("wo/large", bytesBody(large)))).toBe("created");
    expect(Buffer.from((await az.getBlob("bundles", "wo/large"))!.bytes).equals(large)).toBe(true);
  });

  test("a missing, empty or malformed SAS file is auth, naming the file", async () => {
    const gone = join(dir, "gone.sas");
    let e = await failure(azureBlobTarget({ ...opts, sas_token_file: gone }).authenticate());
    expect(e.failure).toBe("auth");
    expect(e.message).toContain(gone);
    expect(e.message).toContain("ENOENT");

    const empty = join(dir, "empty.sas");
    writeFileSync(empty, " \n");
    e = await failure(
      azureBlobTarget({ ...opts, sas_token_file: empty }).put(request("x", bytesBody(new Uint8Array(1)))),
    );
    expect(e.failure).toBe("auth");
    expect(e.message).toContain(`${empty} is empty`);

    const junk = join(dir, "junk.sas");
    writeFileSync(junk, "not a token\n");
    e = await failure(azureBlobTarget({ ...opts, sas_token_file: junk }).authenticate());
    expect(e.message).toContain("no sig=");

    const expired = sasFile("expired.sas", makeSas({ container: "bundles", expiry: new Date(Date.now() - 60_000) }));
    e = await failure(azureBlobTarget({ ...opts, sas_token_file: expired }).authenticate());
    expect(e.failure).toBe("auth");
    expect(e.message).toContain("expired");
  });

  test("a pasted SAS URL works as well as the bare token", async () => {
    const f = join(dir, "url.sas");
    writeFileSync(f, `${az.url}/bundles?${makeSas({ container: "bundles" })}\n`);
    const t = azureBlobTarget({ ...opts, sas_token_file: f });
    expect(await t.put(request("from-url", bytesBody(new Uint8Array([7]))))).toBe("created");
  });

  test("a paced upload keeps to the cap and arrives intact", async () => {
    const t = azureBlobTarget(opts);
    const bytes = randomBytes(MiB);
    const body = bytesBody(bytes, Pacer.fromMbps(4));
    const t0 = performance.now();
    expect(await t.put(request("paced", body))).toBe("created");
    const sec = (performance.now() - t0) / 1000;
    // 1 MiB at 4 Mbit/s is 2.1 s; the pacer's first quarter second is a burst.
    expect(sec).toBeGreaterThan(1.7);
    expect(sec).toBeLessThan(6);
    expect(Buffer.from((await az.getBlob("bundles", "paced"))!.bytes).equals(bytes)).toBe(true);
  });

  test("the server stopped mid-upload: a network failure; after a restart the data is there and the retry lands intact", async () => {
    const t = azureBlobTarget(opts);
    const before = randomBytes(2000);
    expect(await t.put(request("before-restart", bytesBody(before)))).toBe("created");
    const bytes = randomBytes(MiB);
    // 1 Mbit/s: 8 s for the whole body, stopped after half a second.
    const slow = t.put(request("interrupted", bytesBody(bytes, Pacer.fromMbps(1)))).catch((e) => e);
    await Bun.sleep(500);
    await az.stop();
    const e = await slow;
    expect(e).toBeInstanceOf(UploadError);
    expect(e.failure).toBe("network");
    expect(e.retryable).toBe(true);
    expect((await failure(t.put(request("during", bytesBody(before))))).failure).toBe("network");
    await az.restart();
    expect(await az.getBlob("bundles", "interrupted")).toBeUndefined();
    expect(await t.put(request("before-restart", bytesBody(before)))).toBe("exists");
    expect(await t.put(request("interrupted", bytesBody(bytes)))).toBe("created");
    expect(Buffer.from((await az.getBlob("bundles", "interrupted"))!.bytes).equals(bytes)).toBe(true);
  });
});

describe.skipIf(!!missing)("azure blob over HTTPS with a managed identity", () => {
  let az: Azurite;
  let imds: FakeImds;
  let opts: AzureBlobOptions;

  beforeAll(async () => {
    [az, imds] = await Promise.all([startAzurite({ oauth: true }), startFakeImds()]);
    await az.createContainer("bundles");
    opts = {
      account_url: az.url,
      container: "bundles",
      auth: "managed_identity",
      imds_endpoint: imds.endpoint,
      ca_file: az.caFile,
    };
  });
  afterAll(async () => {
    await az?.close();
    await imds?.stop();
  });

  test("puts with a token from IMDS, asked once for several requests", async () => {
    expect(az.url.startsWith("https://127.0.0.1:")).toBe(true);
    const t = azureBlobTarget(opts);
    const before = imds.tokens;
    await t.authenticate();
    const a = randomBytes(3000);
    const b = randomBytes(4000);
    expect(await t.put(request("mi/a", bytesBody(a)))).toBe("created");
    expect(await t.put(request("mi/b", bytesBody(b)))).toBe("created");
    expect(await t.put(request("mi/b", bytesBody(b)))).toBe("exists");
    expect(Buffer.from(await t.get("mi/a")).equals(a)).toBe(true);
    expect(imds.tokens - before).toBe(1);
    expect(await az.listBlobs("bundles")).toEqual(expect.arrayContaining(["mi/a", "mi/b"]));
  });

  test("blocks with a token", async () => {
    const t = azureBlobTarget({ ...opts, singlePutMax: 64 * KiB, blockSize: 48 * KiB });
    const bytes = randomBytes(200 * KiB);
    expect(await t.put(request("mi/large", bytesBody(bytes)))).toBe("created");
    expect(Buffer.from((await az.getBlob("bundles", "mi/large"))!.bytes).equals(bytes)).toBe(true);
  });

  test("without ca_file the self-signed server is a tls failure (verification stays on)", async () => {
    const t = azureBlobTarget({ ...opts, ca_file: undefined });
    const e = await failure(t.put(request("mi/untrusted", bytesBody(new Uint8Array(5)))));
    expect(e.failure).toBe("tls");
    expect(e.message).toContain("ca_file");
  });

  test("a token close to expiry is fetched again", async () => {
    const short = startFakeImds({ lifetimeSec: 301 }); // refreshed 5 min before expiry: cached 1 s
    try {
      const t = azureBlobTarget({ ...opts, imds_endpoint: short.endpoint });
      await t.put(request("mi/r1", bytesBody(new Uint8Array(1))));
      await t.put(request("mi/r2", bytesBody(new Uint8Array(1))));
      expect(short.tokens).toBe(1);
      await Bun.sleep(1100);
      await t.put(request("mi/r3", bytesBody(new Uint8Array(1))));
      expect(short.tokens).toBe(2);
    } finally {
      await short.stop();
    }
  });

  test("IMDS is asked directly even when HTTP_PROXY is set", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy };
    process.env.HTTP_PROXY = dead;
    process.env.http_proxy = dead;
    try {
      const fresh = startFakeImds();
      try {
        await azureBlobTarget({ ...opts, imds_endpoint: fresh.endpoint }).authenticate();
        expect(fresh.tokens).toBe(1);
      } finally {
        await fresh.stop();
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test("no identity on the VM, or an unknown client_id, is an identity failure", async () => {
    const none = startFakeImds({ systemAssigned: false });
    const user = startFakeImds({ systemAssigned: false, userAssigned: ["1111-2222"] });
    try {
      let e = await failure(azureBlobTarget({ ...opts, imds_endpoint: none.endpoint }).authenticate());
      expect(e.failure).toBe("identity");
      expect(e.breaks).toBe(true);
      expect(e.message).toContain("no managed identity on this VM");
      expect(e.message).toContain("Identity not found");

      e = await failure(
        azureBlobTarget({ ...opts, imds_endpoint: user.endpoint, client_id: "9999" }).put(
          request("mi/x", bytesBody(new Uint8Array(1))),
        ),
      );
      expect(e.failure).toBe("identity");
      expect(e.message).toContain("client_id 9999");
      // The right client_id works.
      await azureBlobTarget({ ...opts, imds_endpoint: user.endpoint, client_id: "1111-2222" }).authenticate();
      expect(user.tokens).toBe(1);
    } finally {
      await none.stop();
      await user.stop();
    }
  });

  test("IMDS not reachable: not an Azure VM", async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const e = await failure(azureBlobTarget({ ...opts, imds_endpoint: endpoint }).authenticate());
    expect(e.failure).toBe("identity");
    expect(e.message).toContain("is not reachable");
    expect(e.message).toContain("not an Azure VM");
  });

  test("another cloud's metadata service (404) is identity; a busy IMDS (500, 429) is retryable", async () => {
    let status = 404;
    const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("Not Found", { status }) });
    try {
      const t = azureBlobTarget({ ...opts, imds_endpoint: `http://127.0.0.1:${other.port}` });
      let e = await failure(t.authenticate());
      expect(e.failure).toBe("identity");
      expect(e.message).toContain("not an Azure VM");
      for (status of [500, 429]) {
        e = await failure(t.authenticate());
        expect(e.failure).toBe("server");
        expect(e.retryable).toBe(true);
      }
    } finally {
      await other.stop(true);
    }
  });

  test("the fake IMDS refuses requests without Metadata: true", async () => {
    const q = "api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F";
    const res = await fetch(`${imds.endpoint}/metadata/identity/oauth2/token?${q}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: "invalid_request",
      error_description: "Required metadata header not specified",
    });
    const ok = await fetch(`${imds.endpoint}/metadata/identity/oauth2/token?${q}`, { headers: { Metadata: "true" } });
    const json = (await ok.json()) as Record<string, unknown>;
    for (const k of [
      "access_token",
      "expires_in",
      "expires_on",
      "ext_expires_in",
      "not_before",
      "resource",
      "token_type",
    ])
      expect(typeof json[k]).toBe("string");
    expect(json.token_type).toBe("Bearer");
    expect(json.resource).toBe("https://storage.azure.com/");
  });

  test("a container that does not exist is not_found with a token too", async () => {
    const t = azureBlobTarget({ ...opts, container: "nosuch" });
    const e = await failure(t.put(request("k", bytesBody(new Uint8Array(1)))));
    expect(e.failure).toBe("not_found");
  });

  test("a token the service refuses is auth, and the next attempt asks IMDS again", async () => {
    // IMDS hands out a token for another audience: only the storage service can tell.
    const wrong = startFakeImds({ audience: "https://management.azure.com/" });
    try {
      const t = azureBlobTarget({ ...opts, imds_endpoint: wrong.endpoint });
      const e = await failure(t.put(request("mi/refused", bytesBody(new Uint8Array(1)))));
      expect(e.failure).toBe("auth");
      expect(e.message).toContain("audience");
      await failure(t.put(request("mi/refused", bytesBody(new Uint8Array(1)))));
      expect(wrong.tokens).toBe(2);
    } finally {
      await wrong.stop();
    }
  });
});
