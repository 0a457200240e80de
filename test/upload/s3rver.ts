// A real S3-compatible server for the S3 target's tests: s3rver 3.7.1 (npm)
// under node, on a free loopback port, with a temp data dir and one bucket.
//
// s3rver alone is too lenient to test a client against: it accepts any SigV4
// signature from a known key id, ignores If-None-Match on PUT, never checks
// Content-MD5, x-amz-checksum-sha256 or x-amz-content-sha256, and writes a
// body to its file as it arrives (a killed server leaves half an object).
// So the node process also runs a front (two Koa middlewares put into
// s3rver's chain) that does what S3 does: verifies the signature from the
// request as it came off the wire, the body's hashes, conditional writes
// (first to finish wins, the other gets 412), and hands s3rver a body only
// once it is complete. It logs every request with its headers, so tests can
// see what was sent (Content-Length or chunked, which headers were signed).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, sep } from "node:path";
import { ROOT, tempDir } from "../helpers";

const S3RVER = join(ROOT, "node_modules/s3rver");
const SUFFIX = "._S3rver_object";

/** Why the server cannot run here (printed by the caller), or undefined. */
export function s3rverUnavailable(): string | undefined {
  if (!Bun.which("node")) return "node is not installed (s3rver runs under node; scripts/deps.sh installs it)";
  if (!existsSync(join(S3RVER, "package.json"))) return "npm devDependency s3rver is not installed (npm ci)";
  return undefined;
}

export interface S3rverOptions {
  bucket?: string;
  region?: string;
  /** Emulate S3's conditional writes (If-None-Match: * → 412); false = plain s3rver, which ignores it. */
  conditionalWrites?: boolean;
  /** Require this session token (x-amz-security-token), as temporary credentials do. */
  sessionToken?: string;
  /** The server's clock runs this many seconds ahead (RequestTimeTooSkewed past 15 min). */
  skewSec?: number;
  /** The key may put but not read (no s3:GetObject or s3:ListBucket): GET and HEAD get 403 AccessDenied. */
  writeOnly?: boolean;
}

/** One request as the server received it. */
export interface S3Request {
  method: string;
  /** Path and query as sent, before any decoding. */
  url: string;
  status: number;
  /** Lower-case names; the signature's SignedHeaders list. */
  headers: Record<string, string>;
  signedHeaders: string[];
  /** Bytes of a PUT object body, as received. */
  bodyBytes?: number;
}

export interface StoredObject {
  bytes: Uint8Array;
  /** x-amz-meta-* without the prefix. */
  metadata: Record<string, string>;
  contentType?: string;
  /** The object file's mtime: changes on every write (millisecond resolution, unlike Last-Modified). */
  modified: Date;
}

export interface S3rver {
  /** http://127.0.0.1:PORT, for path_style: true. */
  endpoint: string;
  /** http://s3.localhost:PORT, for path_style: false (Bun resolves *.localhost to loopback). */
  vhostEndpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  port: number;
  /** Kills the server at once (SIGKILL: connections reset, an unfinished PUT stores nothing). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** Keys in the bucket, sorted (read from the data dir: works while stopped). */
  listKeys(): string[];
  getObject(key: string): StoredObject | undefined;
  /** Every request so far, oldest first. */
  requests(): S3Request[];
  /** Stops the server and removes its files. */
  close(): Promise<void>;
}

export async function startS3rver(o: S3rverOptions = {}): Promise<S3rver> {
  const why = s3rverUnavailable();
  if (why) throw new Error(why);
  const root = tempDir("aod-s3rver-");
  const data = join(root, "data");
  mkdirSync(data);
  const script = join(root, "front.cjs");
  writeFileSync(script, FRONT);
  const log = join(root, "requests.jsonl");
  const bucket = o.bucket ?? "aod-test";
  const region = o.region ?? "eu-test-1";
  const accessKeyId = `AKIATEST${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
  const secretAccessKey = Buffer.from(crypto.getRandomValues(new Uint8Array(30))).toString("base64");
  let port = 0;
  let proc: ReturnType<typeof spawn> | undefined;

  const launch = async () => {
    const cfg = {
      s3rver: S3RVER,
      data,
      log,
      port,
      bucket,
      region,
      keys: { [accessKeyId]: secretAccessKey },
      sessionToken: o.sessionToken,
      conditionalWrites: o.conditionalWrites ?? true,
      skewSec: o.skewSec ?? 0,
      writeOnly: o.writeOnly ?? false,
    };
    // stdin is a pipe the front watches: when this process dies, node follows.
    const p = spawn("node", [script, JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "pipe"] });
    proc = p;
    let out = "";
    let err = "";
    p.stderr?.on("data", (d) => {
      err += d;
    });
    const ready = new Promise<number>((resolve, reject) => {
      p.stdout?.on("data", (d) => {
        out += d;
        const m = /^listening (\d+)$/m.exec(out);
        if (m) resolve(Number(m[1]));
      });
      p.on("exit", (code) => reject(new Error(`s3rver exited (${code}) before listening: ${err || out}`)));
    });
    const timeout = Bun.sleep(15_000).then(() => {
      throw new Error(`s3rver did not listen within 15 s: ${err || out}`);
    });
    port = await Promise.race([ready, timeout]);
  };

  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await exited;
  };

  await launch();

  const objectPath = (key: string) => join(data, bucket, ...key.split("/")) + SUFFIX;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    vhostEndpoint: `http://s3.localhost:${port}`,
    bucket,
    region,
    accessKeyId,
    secretAccessKey,
    sessionToken: o.sessionToken,
    port,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    listKeys() {
      const dir = join(data, bucket);
      if (!existsSync(dir)) return [];
      return (readdirSync(dir, { recursive: true }) as string[])
        .filter((f) => f.endsWith(SUFFIX))
        .map((f) => f.slice(0, -SUFFIX.length).split(sep).join("/"))
        .sort();
    },
    getObject(key) {
      const path = objectPath(key);
      if (!existsSync(path)) return undefined;
      const stored = JSON.parse(readFileSync(path.replace(/object$/, "metadata.json"), "utf8")) as Record<
        string,
        string
      >;
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(stored)) if (k.startsWith("x-amz-meta-")) metadata[k.slice(11)] = v;
      return {
        bytes: new Uint8Array(readFileSync(path)),
        metadata,
        contentType: stored["content-type"],
        modified: statSync(path).mtime,
      };
    },
    requests() {
      if (!existsSync(log)) return [];
      return readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as S3Request);
    },
    close: async () => {
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * The node side: s3rver with the front's two middlewares. Plain CommonJS run
 * by node (s3rver 3.7.1 is CommonJS and runs on node 20), kept here so the
 * helper is one file.
 */
const FRONT = String.raw`"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const { Readable } = require("node:stream");
const cfg = JSON.parse(process.argv[2]);
const S3rver = require(cfg.s3rver);
const S3Error = require(cfg.s3rver + "/lib/models/error.js");
const { DUMMY_ACCOUNT } = require(cfg.s3rver + "/lib/models/account.js");

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();

for (const [id, secret] of Object.entries(cfg.keys)) DUMMY_ACCOUNT.createKeyPair(id, secret);

function s3error(code, message, status, detail) {
  const e = new S3Error(code, message, detail || {});
  if (status) e.status = status;
  return e;
}

const sha256hex = (b) => crypto.createHash("sha256").update(b).digest("hex");
const hmac = (key, s) => crypto.createHmac("sha256", key).update(s).digest();
const rfc3986 = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

// SigV4 of the request as it arrived: path and headers off the wire, so a
// client that signs one thing and sends another fails here as it would on S3.
function verifySignature(req, rawUrl) {
  const auth = req.headers.authorization;
  const m = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) throw s3error("AuthorizationHeaderMalformed", "The authorization header is malformed.");
  const [keyId, date, region, service, term] = m[1].split("/");
  const secret = cfg.keys[keyId];
  if (!secret)
    throw s3error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
  if (region !== cfg.region)
    throw s3error("AuthorizationHeaderMalformed", "the region '" + region + "' is wrong; expecting '" + cfg.region + "'");
  if (service !== "s3" || term !== "aws4_request")
    throw s3error("AuthorizationHeaderMalformed", "The authorization header is malformed; bad credential scope.");
  const amzDate = req.headers["x-amz-date"] || "";
  const t = Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"));
  if (!amzDate.startsWith(date) || Number.isNaN(t))
    throw s3error("AuthorizationHeaderMalformed", "x-amz-date is missing or does not match the credential date.");
  if (Math.abs(Date.now() + cfg.skewSec * 1000 - t) > 15 * 60 * 1000)
    throw s3error("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.");
  const signed = m[2].split(";");
  // S3 wants host and every x-amz-* header signed; this front also wants the
  // ones whose tampering would matter for aod (Content-MD5, If-None-Match).
  for (const h of Object.keys(req.headers))
    if ((h === "host" || h.startsWith("x-amz-") || h === "content-md5" || h === "if-none-match") && !signed.includes(h))
      throw s3error("AccessDenied", "There were headers present in the request which were not signed: " + h);
  if (cfg.sessionToken !== undefined && req.headers["x-amz-security-token"] !== cfg.sessionToken)
    throw s3error("InvalidToken", "The provided token is malformed or otherwise invalid.");
  const q = rawUrl.indexOf("?");
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? "" : rawUrl.slice(q + 1);
  const canonicalPath = path.split("/").map((s) => rfc3986(decodeURIComponent(s))).join("/");
  const canonicalQuery = query
    .split("&")
    .filter(Boolean)
    .map((kv) => {
      const [k, ...v] = kv.split("=");
      return rfc3986(decodeURIComponent(k)) + "=" + rfc3986(decodeURIComponent(v.join("=")));
    })
    .sort()
    .join("&");
  const canonicalHeaders = signed
    .map((h) => h + ":" + String(req.headers[h] ?? "").trim().replace(/\s+/g, " ") + "\n")
    .join("");
  const canonical = [
    req.method,
    canonicalPath,
    canonicalQuery,
    canonicalHeaders,
    signed.join(";"),
    req.headers["x-amz-content-sha256"],
  ].join("\n");
  const scope = [date, region, service, term].join("/");
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256hex(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac("AWS4" + secret, date), region), service), term);
  const expected = crypto.createHmac("sha256", key).update(toSign).digest("hex");
  if (expected !== m[3])
    throw s3error(
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
      0,
      { CanonicalRequest: canonical },
    );
}

async function front(ctx, next) {
  const req = ctx.req;
  const rawUrl = req.url;
  const entry = { method: req.method, url: rawUrl, status: 0, headers: { ...req.headers }, signedHeaders: [] };
  delete entry.headers.authorization;
  const sh = /SignedHeaders=([^,\s]+)/.exec(req.headers.authorization || "");
  if (sh) entry.signedHeaders = sh[1].split(";");
  // Logged before the answer goes out, so a test that got its response finds the entry.
  const done = (status) => {
    entry.status = status;
    fs.appendFileSync(cfg.log, JSON.stringify(entry) + "\n");
  };
  ctx.state.logEntry = entry;
  try {
    // Like a private bucket on S3: no anonymous requests.
    if (!req.headers.authorization) throw s3error("AccessDenied", "Access Denied");
    verifySignature(req, rawUrl);
    if (cfg.writeOnly && (req.method === "GET" || req.method === "HEAD")) throw s3error("AccessDenied", "Access Denied");
    await next();
  } catch (e) {
    done(e instanceof S3Error ? e.status : 500);
    throw e;
  }
  done(ctx.status);
}

// After s3rver's vhost middleware, so ctx.path is /bucket/key in both URL styles.
const reserved = new Set();
async function bodyCheck(ctx, next) {
  const entry = ctx.state.logEntry;
  const req = ctx.req;
  const parts = ctx.path.split("/");
  if (req.method !== "PUT" || parts.length < 3 || !parts[2] || ctx.querystring || req.headers["x-amz-copy-source"])
    return next();
  const bucket = decodeURIComponent(parts[1]);
  const key = decodeURIComponent(parts.slice(2).join("/"));
  if (req.headers["content-length"] === undefined)
    throw s3error("MissingContentLength", "You must provide the Content-Length HTTP header.", 411);
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  if (entry) entry.bodyBytes = body.length;
  const declared = req.headers["x-amz-content-sha256"];
  if (declared !== "UNSIGNED-PAYLOAD" && declared.toLowerCase() !== sha256hex(body))
    throw s3error("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.", 400);
  const md5 = req.headers["content-md5"];
  if (md5 !== undefined) {
    if (Buffer.from(md5, "base64").length !== 16) throw s3error("InvalidDigest", "The Content-MD5 you specified was invalid.");
    if (md5 !== crypto.createHash("md5").update(body).digest("base64"))
      throw s3error("BadDigest", "The Content-MD5 you specified did not match what we received.");
  }
  const sum = req.headers["x-amz-checksum-sha256"];
  if (sum !== undefined && sum !== crypto.createHash("sha256").update(body).digest("base64"))
    throw s3error("BadDigest", "The SHA256 you specified did not match the calculated checksum.");
  const id = bucket + "/" + key;
  const conditional = cfg.conditionalWrites && req.headers["if-none-match"] === "*";
  // Checked once the body is in, like S3: of two conditional puts the first to finish wins.
  if (conditional && (reserved.has(id) || (await ctx.app.store.existsObject(bucket, key))))
    throw s3error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 0, {
      Condition: "If-None-Match",
    });
  if (conditional) reserved.add(id);
  ctx.req = Readable.from([body]);
  try {
    await next();
  } finally {
    reserved.delete(id);
  }
}

const app = new S3rver({
  address: "127.0.0.1",
  port: cfg.port,
  directory: cfg.data,
  silent: true,
  serviceEndpoint: "localhost",
  configureBuckets: [{ name: cfg.bucket, configs: [] }],
});
app.middleware.unshift(front);
const vhost = app.middleware.findIndex((fn) => fn.name === "vhost");
if (vhost < 0) throw new Error("s3rver's vhost middleware not found: another s3rver version?");
app.middleware.splice(vhost + 1, 0, bodyCheck);
app.on("error", () => {});
app.run().then(
  (addr) => console.log("listening " + addr.port),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
`;
