// The S3-compatible target: one signed PUT per object, made idempotent by a
// HEAD that compares the sha256 kept in the object's metadata, and by
// `If-None-Match: *` where the server honours conditional writes. Requests
// are signed with SigV4 by aws4 because Bun's S3 client cannot set
// If-None-Match, metadata or checksum headers on a put.
import aws4 from "aws4";
import { type HttpFetch, httpClient, redactUrl, responseError, transferTimeoutMs } from "./http";
import { type PutOutcome, type PutRequest, UploadError, type UploadTarget } from "./target";

export type S3Options = {
  /** https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:4568, … (a path after the host is kept). */
  endpoint: string;
  bucket: string;
  region: string;
  /** true: endpoint/bucket/key; false: bucket.endpoint-host/key (virtual-hosted). */
  path_style: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  ca_file?: string;
};

/** One key or bucket segment as SigV4 canonicalizes it (RFC 3986, encoded once: S3 does not double-encode). */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Where the bucket lives: the base URL objects' paths are appended to (no trailing "/"). */
export function bucketUrl(opts: Pick<S3Options, "endpoint" | "bucket" | "path_style">): string {
  let u: URL;
  try {
    u = new URL(opts.endpoint);
  } catch {
    throw new UploadError(`s3 endpoint ${JSON.stringify(opts.endpoint)} is not a URL`, "client");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:")
    throw new UploadError(`s3 endpoint ${redactUrl(opts.endpoint)}: only http and https are supported`, "client");
  if (!opts.bucket || opts.bucket.includes("/"))
    throw new UploadError(`s3 bucket ${JSON.stringify(opts.bucket)} is not a bucket name`, "client");
  const base = u.pathname.replace(/\/+$/, "");
  if (opts.path_style) return `${u.protocol}//${u.host}${base}/${encodeSegment(opts.bucket)}`;
  // A virtual-hosted bucket is a DNS label in front of the endpoint's host: an IP address has no subdomains.
  if (/^[\d.]+$|^\[/.test(u.hostname))
    throw new UploadError(
      `s3 endpoint ${redactUrl(opts.endpoint)} is an IP address: set path_style: true (virtual-hosted buckets need a host name)`,
      "client",
    );
  return `${u.protocol}//${opts.bucket}.${u.host}${base}`;
}

/** The object's URL. Keys are encoded segment by segment so "/" stays a separator. */
export function objectUrl(opts: Pick<S3Options, "endpoint" | "bucket" | "path_style">, key: string): string {
  const segments = key.split("/");
  // fetch's URL parser resolves "." and ".." segments (also as %2e), so such a key could not be sent as signed.
  if (!key || key.startsWith("/") || segments.some((s) => s === "." || s === ".."))
    throw new UploadError(`s3 key ${JSON.stringify(key)}: empty, leading "/" or a "."/".." segment`, "client");
  return `${bucketUrl(opts)}/${segments.map(encodeSegment).join("/")}`;
}

const TOKEN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** x-amz-meta-* headers; S3 keeps metadata as US-ASCII header values, so anything else is refused here, not by a 400. */
function metadataHeaders(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    const n = name.toLowerCase();
    if (!TOKEN.test(n))
      throw new UploadError(`s3 metadata name ${JSON.stringify(name)} is not a header token`, "client");
    if (!/^[\x20-\x7e]*$/.test(value))
      throw new UploadError(`s3 metadata ${name}: the value must be printable ASCII`, "client");
    out[`x-amz-meta-${n}`] = value;
  }
  return out;
}

type Head = { state: "present"; sha256: string | null } | { state: "absent" } | { state: "unreadable" };

export function s3Target(opts: S3Options): UploadTarget {
  const fetch: HttpFetch = httpClient({ caFile: opts.ca_file });
  const base = bucketUrl(opts);
  // Built from the endpoint's scheme, host and path only: no user info or query to hide.
  const where = base;
  const creds = opts.credentials;

  /** The request's headers with SigV4's (Host, X-Amz-Date, X-Amz-Content-Sha256, a session token, Authorization). */
  function sign(method: string, url: string, headers: Record<string, string> = {}): Record<string, string> {
    const u = new URL(url);
    const signed = aws4.sign(
      // Host is signed as sent (with a non-default port); Bun sends the Host header given here.
      { service: "s3", region: opts.region, method, host: u.host, path: u.pathname + u.search, headers },
      {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
      },
    );
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers ?? {})) if (v !== undefined) out[k] = String(v);
    return out;
  }

  /** A signed request; redirects are not followed (a redirect to another host would carry a wrong signature). */
  function send(
    method: string,
    url: string,
    headers: Record<string, string>,
    extra: { body?: BodyInit; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<Response> {
    return fetch(url, { method, headers: sign(method, url, headers), redirect: "manual", ...extra });
  }

  /**
   * Is the key there, and with which sha256? HEAD answers carry no body, so a
   * 403/400 cannot say why: a ranged GET then brings the error code. S3 also
   * answers 403 instead of 404 for a missing key when the identity lacks
   * s3:ListBucket, so AccessDenied leaves the question open ("unreadable")
   * and the put goes on: a write-only identity can still upload.
   */
  async function head(url: string, doing: string, signal?: AbortSignal): Promise<Head> {
    const res = await send("HEAD", url, {}, { signal });
    await res.body?.cancel();
    if (res.status === 200) return { state: "present", sha256: res.headers.get("x-amz-meta-sha256") };
    // A missing bucket is also a 404 here: the put that follows then says NoSuchBucket.
    if (res.status === 404) return { state: "absent" };
    if (res.status >= 500 || res.status === 408 || res.status === 429)
      throw await responseError(res, `${doing} (HEAD)`);
    const probe = await send("GET", url, { Range: "bytes=0-0" }, { signal });
    if (probe.ok) {
      await probe.body?.cancel();
      return { state: "present", sha256: probe.headers.get("x-amz-meta-sha256") };
    }
    const err = await responseError(probe, `${doing} (HEAD ${res.status}, then GET)`);
    if (err.code === "NoSuchKey") return { state: "absent" };
    if (err.code === "AccessDenied") return { state: "unreadable" };
    throw err;
  }

  function compare(h: Head, sha256Hex: string, doing: string): PutOutcome {
    if (h.state === "present") {
      if (h.sha256?.toLowerCase() === sha256Hex) return "exists";
      throw new UploadError(
        h.sha256
          ? `${doing}: the key exists with other bytes (sha256 ${h.sha256}, ours ${sha256Hex})`
          : `${doing}: the key exists without sha256 metadata (not stored by aod); not overwritten`,
        "conflict",
      );
    }
    // Only after a refused create-only put: the key exists, and a write-only identity cannot read it to
    // compare. aod's keys are its own and only ever written create-only, so it is an earlier attempt's.
    if (h.state === "unreadable") return "exists";
    // A conditional put was refused but the key is not there yet: another upload of it is in flight.
    throw new UploadError(`${doing}: the server refused the conditional put but the key is not there yet`, "server");
  }

  return {
    kind: "s3",
    where,

    async authenticate() {
      // Static keys: nothing to fetch, but an empty one would only fail later as a confusing signature error.
      if (!creds.accessKeyId || !creds.secretAccessKey)
        throw new UploadError("s3 credentials: the access key id or the secret access key is empty", "auth");
    },

    async put(req: PutRequest): Promise<PutOutcome> {
      const { key, body, signal } = req;
      const url = objectUrl(opts, key);
      const doing = `s3 put ${opts.bucket}/${key}`;
      // The stored sha256 is what later puts compare against, so it is the body's whatever the caller passed.
      const meta = metadataHeaders({ ...req.metadata, sha256: body.sha256Hex });

      const before = await head(url, doing, signal);
      if (before.state === "present") return compare(before, body.sha256Hex, doing);

      const headers: Record<string, string> = {
        "Content-Type": req.contentType,
        // Explicit, so a paced stream goes with Content-Length rather than chunked (S3 refuses chunked).
        "Content-Length": String(body.size),
        "Content-MD5": body.md5Base64,
        "x-amz-checksum-sha256": Buffer.from(body.sha256Hex, "hex").toString("base64"),
        // The payload hash is signed, so S3 rejects a body that is not the one hashed (XAmzContentSHA256Mismatch).
        "x-amz-content-sha256": body.sha256Hex,
        // Real S3 refuses to overwrite (412); servers without conditional writes ignore it: the HEAD covered them.
        "If-None-Match": "*",
        ...meta,
      };
      const bytes = await body.read(0, body.size);
      const res = await send("PUT", url, headers, {
        body: body.paced(bytes),
        signal,
        timeoutMs: transferTimeoutMs(body.size, body.bytesPerSec),
      });
      if (res.ok) {
        await res.body?.cancel();
        return "created";
      }
      const err = await responseError(res, doing);
      // 412: someone stored the key between our HEAD and PUT; 409 ConditionalRequestConflict: both were in flight.
      if (res.status === 412 || err.code === "ConditionalRequestConflict")
        return compare(await head(url, doing, signal), body.sha256Hex, doing);
      throw err;
    },

    async get(key: string, signal?: AbortSignal): Promise<Uint8Array> {
      const url = objectUrl(opts, key);
      const res = await send("GET", url, {}, { signal });
      if (!res.ok) throw await responseError(res, `s3 get ${opts.bucket}/${key}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
