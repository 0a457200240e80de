// Azure Blob Storage as an upload target, over its REST API (no SDK: a few
// requests, and the SDK would bring its own HTTP stack, proxy and TLS rules).
// Auth is a managed identity's token from IMDS, or a SAS token read from a
// file; shared keys are deliberately unsupported. Every put is create-only
// (If-None-Match: *), so a retry of an upload that did arrive ends in 409 and
// is recognised by the sha256 kept in the blob's metadata.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { errorCode, errorMessage } from "../util/errors";
import { type HttpFetch, httpClient, responseError, transferTimeoutMs } from "./http";
import { IMDS_ENDPOINT, ManagedIdentity } from "./imds";
import { type PutOutcome, type PutRequest, UploadError, type UploadTarget } from "./target";

export interface AzureBlobOptions {
  /** https://acct.blob.core.windows.net or path-style https://127.0.0.1:10000/devstoreaccount1 */
  account_url: string;
  container: string;
  auth: "managed_identity" | "sas";
  /** A user-assigned identity's client id (managed_identity). */
  client_id?: string;
  /** Default http://169.254.169.254; tests point it at a fake IMDS. */
  imds_endpoint?: string;
  /** File holding the SAS token (auth sas); re-read for every operation so a rotated token is picked up. */
  sas_token_file?: string;
  /** Extra CA certificates (PEM) to trust for this target only. */
  ca_file?: string;
  /** Largest object sent as one Put Blob (default 64 MiB); larger ones go as blocks. */
  singlePutMax?: number;
  /** Block size of large objects (default 8 MiB). */
  blockSize?: number;
}

/** 2021-08-06: supports OAuth (>= 2017-11-09), and Azurite 3.35 accepts it. */
const API_VERSION = "2021-08-06";
const MiB = 1024 * 1024;

interface Credential {
  /** SAS query (without "?"), or empty. */
  query: string;
  headers: Record<string, string>;
}

export function azureBlobTarget(opts: AzureBlobOptions): UploadTarget {
  return new AzureBlob(opts);
}

class AzureBlob implements UploadTarget {
  readonly kind = "azure_blob";
  readonly where: string;
  private readonly base: string;
  private readonly http: HttpFetch;
  private readonly identity?: ManagedIdentity;
  private readonly singlePutMax: number;
  private readonly blockSize: number;

  constructor(private readonly opts: AzureBlobOptions) {
    let u: URL;
    try {
      u = new URL(opts.account_url);
    } catch {
      throw new UploadError(`account_url ${JSON.stringify(opts.account_url)} is not a URL`, "client");
    }
    if (u.protocol !== "https:" && u.protocol !== "http:")
      throw new UploadError(`account_url must be https:// (got ${u.protocol})`, "client");
    // Azure refuses bearer tokens over HTTP; better said here than after a token went out in clear.
    if (opts.auth === "managed_identity" && u.protocol !== "https:")
      throw new UploadError("account_url must be https:// with auth managed_identity", "client");
    // A SAS pasted into account_url would end up in logs: it belongs in sas_token_file.
    if (u.search || u.username || u.password)
      throw new UploadError(
        "account_url must not carry a query or credentials (put a SAS in sas_token_file)",
        "client",
      );
    const account = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
    this.base = `${account}/${encodeURIComponent(opts.container)}`;
    // Checked above to carry no query or user info: safe for logs as it is.
    this.where = `${account}/${opts.container}`;
    this.http = httpClient({ caFile: opts.ca_file });
    this.singlePutMax = opts.singlePutMax ?? 64 * MiB;
    this.blockSize = opts.blockSize ?? 8 * MiB;
    if (opts.auth === "managed_identity")
      this.identity = new ManagedIdentity({
        endpoint: opts.imds_endpoint ?? IMDS_ENDPOINT,
        clientId: opts.client_id,
      });
  }

  async authenticate(signal?: AbortSignal): Promise<void> {
    await this.credential(signal);
  }

  async put(req: PutRequest): Promise<PutOutcome> {
    const cred = await this.credential(req.signal);
    if (req.body.size <= this.singlePutMax) return this.putSingle(req, cred);
    return this.putBlocks(req, cred);
  }

  async get(key: string, signal?: AbortSignal): Promise<Uint8Array> {
    const cred = await this.credential(signal);
    const res = await this.http(this.url(key, cred), { headers: this.headers(cred), signal });
    if (res.status !== 200) throw await this.error(res, `get ${key}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    // Azure returns the MD5 it stored at upload: a cheap end-to-end check of what came back.
    const md5 = res.headers.get("content-md5");
    if (md5 && md5 !== createHash("md5").update(bytes).digest("base64"))
      throw new UploadError(`get ${key}: the bytes read back do not match the blob's Content-MD5`, "server", 200);
    return bytes;
  }

  /** Small objects: one request, create-only. */
  private async putSingle(req: PutRequest, cred: Credential): Promise<PutOutcome> {
    const { key, body } = req;
    const bytes = await body.read(0, body.size);
    const res = await this.http(this.url(key, cred), {
      method: "PUT",
      headers: {
        ...this.headers(cred),
        ...metaHeaders(req.metadata),
        "x-ms-blob-type": "BlockBlob",
        "If-None-Match": "*",
        "Content-Type": req.contentType,
        "Content-MD5": body.md5Base64,
        "Content-Length": String(body.size),
      },
      body: body.paced(bytes),
      signal: req.signal,
      timeoutMs: transferTimeoutMs(body.size, body.bytesPerSec),
    });
    if (res.status === 201) {
      await res.arrayBuffer();
      return "created";
    }
    return this.rejected(res, req, cred);
  }

  /**
   * Large objects: Put Block per block, then one create-only Put Block List.
   * Block ids carry the object's sha256, so blocks a killed or failed attempt
   * left uncommitted are reused only for the same bytes (Azure keeps them a
   * week): a retry under a bandwidth cap sends only what is missing.
   */
  private async putBlocks(req: PutRequest, cred: Credential): Promise<PutOutcome> {
    const { key, body, signal } = req;
    // Already there (an earlier run committed it)? Spares sending it all for a 409.
    const head = await this.http(this.url(key, cred), { method: "HEAD", headers: this.headers(cred), signal });
    if (head.status === 200) return this.compare(head, req);
    if (head.status !== 404 || head.headers.get("x-ms-error-code") === "ContainerNotFound") {
      const e = await this.error(head, `put ${key}`);
      // Without read permission (a write-only SAS) the check is skipped, not the upload.
      if (e.failure !== "permission") throw e;
    } else await head.arrayBuffer();

    const have = await this.uncommitted(key, cred, signal);
    const ids: string[] = [];
    // Azure does not check x-ms-blob-content-md5 against the blocks: hash what
    // is read (staged blocks too, disk is cheap) and commit only if it is the
    // sha256 the metadata will claim.
    const sha = createHash("sha256");
    for (let i = 0, start = 0; start < body.size; i++, start += this.blockSize) {
      const end = Math.min(body.size, start + this.blockSize);
      // Same length for every id of a blob (Azure requires it): 16 hex of the sha256 and a 6-digit index.
      const id = Buffer.from(`${body.sha256Hex.slice(0, 16)}-${String(i).padStart(6, "0")}`).toString("base64");
      ids.push(id);
      const bytes = await body.read(start, end);
      sha.update(bytes);
      if (have.get(id) === end - start) continue;
      const res = await this.http(this.url(key, cred, { comp: "block", blockid: id }), {
        method: "PUT",
        headers: {
          ...this.headers(cred),
          "Content-MD5": createHash("md5").update(bytes).digest("base64"),
          "Content-Length": String(bytes.length),
        },
        body: body.paced(bytes),
        signal,
        timeoutMs: transferTimeoutMs(bytes.length, body.bytesPerSec),
      });
      if (res.status !== 201) throw await this.error(res, `put ${key} (block ${i})`);
      await res.arrayBuffer();
    }

    const got = sha.digest("hex");
    if (got !== body.sha256Hex)
      throw new UploadError(
        `put ${key}: the file changed while uploading (sha256 ${got}, expected ${body.sha256Hex}); not committed`,
        "client",
      );

    const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
    const res = await this.http(this.url(key, cred, { comp: "blocklist" }), {
      method: "PUT",
      headers: {
        ...this.headers(cred),
        ...metaHeaders(req.metadata),
        "If-None-Match": "*",
        "x-ms-blob-content-type": req.contentType,
        "x-ms-blob-content-md5": body.md5Base64,
        "Content-Type": "application/xml",
      },
      body: xml,
      signal,
    });
    if (res.status === 201) {
      await res.arrayBuffer();
      return "created";
    }
    return this.rejected(res, req, cred);
  }

  /** Blocks already staged for this blob (id → size); empty when unknown (no read permission, no blob). */
  private async uncommitted(key: string, cred: Credential, signal?: AbortSignal): Promise<Map<string, number>> {
    const have = new Map<string, number>();
    const res = await this.http(this.url(key, cred, { comp: "blocklist", blocklisttype: "uncommitted" }), {
      headers: this.headers(cred),
      signal,
    });
    const text = await res.text();
    if (res.status !== 200) return have;
    for (const m of text.matchAll(/<Block>\s*<Name>([^<]*)<\/Name>\s*<Size>(\d+)<\/Size>\s*<\/Block>/g))
      have.set(m[1]!, Number(m[2]));
    return have;
  }

  /** A put that was not accepted: 409 BlobAlreadyExists means an earlier attempt may have stored it. */
  private async rejected(res: Response, req: PutRequest, cred: Credential): Promise<PutOutcome> {
    const err = await this.error(res, `put ${req.key}`);
    if (res.status !== 409 || err.code !== "BlobAlreadyExists") throw err;
    const head = await this.http(this.url(req.key, cred), {
      method: "HEAD",
      headers: this.headers(cred),
      signal: req.signal,
    });
    if (head.status === 200) return this.compare(head, req);
    const why = await this.error(head, `put ${req.key}: it exists; reading its properties`);
    // A write-only SAS or role (create without read) cannot look. Keys name
    // the host, the day and the bundle, so what is there is this bundle from
    // an earlier attempt: counted as done, not as a failure no retry could
    // ever get past.
    if (why.failure === "permission") return "exists";
    // Deleted between the 409 and the HEAD: the next attempt creates it.
    if (head.status === 404 && why.code === "BlobNotFound")
      throw new UploadError(`put ${req.key}: the blob vanished after a 409; retry`, "server", 404, why.code);
    throw why;
  }

  /** The blob exists: done if it holds these bytes (by the sha256 kept in its metadata). */
  private async compare(head: Response, req: PutRequest): Promise<PutOutcome> {
    await head.arrayBuffer();
    const theirs = head.headers.get("x-ms-meta-sha256");
    if (theirs === req.body.sha256Hex) return "exists";
    throw new UploadError(
      `put ${req.key}: the blob already exists with other content (sha256 ${theirs ?? "not recorded"}, this upload's ${req.body.sha256Hex})`,
      "conflict",
      409,
      "BlobAlreadyExists",
    );
  }

  /** A non-2xx answer as an UploadError, with Azure's quirks and a hint where the cause is ours to fix. */
  private async error(res: Response, doing: string): Promise<UploadError> {
    // Azure says why authentication failed in <AuthenticationErrorDetail>
    // ("Request date header too old", "The token is expired", "Signature did
    // not match"), which responseError does not read: keep it for the message.
    const text = await res.text().catch(() => "");
    const detail = /<AuthenticationErrorDetail>([^<]*)</.exec(text)?.[1]?.split("\n")[0]?.trim();
    const e = await responseError(
      new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers }),
      doing,
    );
    let failure = e.failure;
    // The body's Content-MD5 did not match what arrived: damaged on the way, worth another try.
    if (res.status === 400 && (e.code === "Md5Mismatch" || /content-?md5/i.test(e.message))) failure = "server";
    if (detail && /date header too (old|new)|RequestTimeTooSkewed/i.test(detail)) failure = "clock_skew";
    // Azurite answers a bad SAS signature with AuthorizationFailure ("Server
    // failed to authenticate the request"), Azure with AuthenticationFailed:
    // both mean the credential, not a missing right.
    if (res.status === 403 && failure === "permission" && /failed to authenticate|signature/i.test(e.message))
      failure = "auth";
    let hint = "";
    if (failure === "auth") {
      if (this.identity) {
        this.identity.invalidate();
        hint = " (the managed identity's token was refused)";
      } else
        hint = ` (check the SAS token in ${this.opts.sas_token_file}: signature, expiry se=, service and container)`;
    } else if (failure === "permission")
      hint = this.identity
        ? " (give the managed identity the Storage Blob Data Contributor role on the container)"
        : " (the SAS token lacks a permission this needs: create/write to upload, read to read back)";
    else if (e.code === "ContainerNotFound") hint = ` (no container ${this.opts.container} at ${this.where})`;
    if (failure === e.failure && !hint && !detail) return e;
    return new UploadError(`${e.message}${detail ? ` (${detail})` : ""}${hint}`, failure, e.status, e.code);
  }

  private async credential(signal?: AbortSignal): Promise<Credential> {
    if (this.identity) {
      const token = await this.identity.token(signal);
      return { query: "", headers: { Authorization: `Bearer ${token}` } };
    }
    return { query: await this.sasToken(), headers: {} };
  }

  /** The SAS token from its file, as it is now (it may have been rotated). */
  private async sasToken(): Promise<string> {
    const file = this.opts.sas_token_file;
    if (!file) throw new UploadError("auth is sas but no sas_token_file is set", "auth");
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new UploadError(`cannot read the SAS token file ${file}: ${errorCode(e) ?? errorMessage(e)}`, "auth");
    }
    text = text.trim();
    // Accept a pasted "Blob SAS URL" as well as the bare token.
    if (/^https?:\/\//i.test(text)) text = text.slice(text.indexOf("?") + 1 || text.length);
    const token = text.replace(/^\?/, "").trim();
    if (!token) throw new UploadError(`the SAS token file ${file} is empty`, "auth");
    const q = new URLSearchParams(token);
    if (!q.get("sig"))
      throw new UploadError(`the SAS token file ${file} holds no SAS token (no sig= parameter)`, "auth");
    const se = q.get("se");
    if (se && Date.parse(se) < Date.now())
      throw new UploadError(
        `the SAS token in ${file} expired at ${se} (by this host's clock, now ${new Date().toISOString()})`,
        "auth",
      );
    return token;
  }

  /** The blob's URL: each key segment encoded, "/" kept, the SAS (if any) after the operation's own parameters. */
  private url(key: string, cred: Credential, params?: Record<string, string>): string {
    const path = key.split("/").map(encodeURIComponent).join("/");
    const query = [params ? new URLSearchParams(params).toString() : "", cred.query].filter(Boolean).join("&");
    return `${this.base}/${path}${query ? `?${query}` : ""}`;
  }

  private headers(cred: Credential): Record<string, string> {
    return { ...cred.headers, "x-ms-version": API_VERSION, "x-ms-date": new Date().toUTCString() };
  }
}

function metaHeaders(metadata: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) h[`x-ms-meta-${k}`] = v;
  return h;
}
