// What the upload lane needs from a storage service. One module per target
// (./azure-blob.ts, ./s3.ts); the lane (./lane.ts) owns retries, pacing, the
// breaker and the state database, so a target only speaks its protocol.

/** The bytes of one object: a bundle, its sidecar, or validate's probe. */
export interface UploadBody {
  readonly size: number;
  /** Of the whole object, lower-case hex. */
  readonly sha256Hex: string;
  /** Of the whole object, base64 (Content-MD5). */
  readonly md5Base64: string;
  /** The bandwidth cap its paced bodies go at (shared by the lane); undefined: none. */
  readonly bytesPerSec?: number;
  /** Bytes [start, end) of the object (all of it, or one block of a large upload). */
  read(start: number, end: number): Promise<Uint8Array>;
  /**
   * A request body for these bytes, paced to the configured bandwidth cap
   * (upload.max_mbps). Send it with an explicit Content-Length.
   */
  paced(bytes: Uint8Array): BodyInit;
}

export interface PutRequest {
  /** The object's full key (prefix included), no leading "/". */
  key: string;
  body: UploadBody;
  contentType: string;
  /** Stored as object metadata (x-ms-meta-*, x-amz-meta-*); always has sha256. */
  metadata: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * created: this call stored the object. exists: the object was already there
 * with the same sha256 (an earlier attempt or run stored it): done as well.
 */
export type PutOutcome = "created" | "exists";

export interface UploadTarget {
  readonly kind: "azure_blob" | "s3";
  /** Where objects go, for logs and status (account URL + container, endpoint + bucket); never a secret. */
  readonly where: string;
  /** Gets or refreshes credentials now (validate's first step). Throws UploadError. */
  authenticate(signal?: AbortSignal): Promise<void>;
  /** Stores one object once: a second put of the same key and bytes returns "exists". Throws UploadError. */
  put(req: PutRequest): Promise<PutOutcome>;
  /** Reads an object back (validate's probe). Throws UploadError. */
  get(key: string, signal?: AbortSignal): Promise<Uint8Array>;
}

/**
 * Why an upload failed, in the words `aod upload validate` and the status
 * show. `breaks` marks failures that retrying cannot fix (no identity, no
 * permission, no such container/bucket): they open the circuit breaker.
 */
export type UploadFailure =
  | "network" // connection refused/reset, DNS, timeout
  | "proxy" // the proxy refused or failed the CONNECT
  | "tls" // certificate not trusted, name mismatch
  | "identity" // no managed identity on this VM / IMDS refused the token
  | "auth" // 401, or credentials rejected (bad signature, expired SAS)
  | "permission" // 403 for want of a right (write, read)
  | "clock_skew" // the server says our clock is off
  | "not_found" // 404: container/bucket (or account) does not exist
  | "conflict" // the key exists with other bytes
  | "server" // 5xx, 408, 429, 412 race: worth retrying
  | "client"; // any other 4xx

export class UploadError extends Error {
  constructor(
    message: string,
    readonly failure: UploadFailure,
    /** The HTTP status, when a server answered. */
    readonly status?: number,
    /** The service's error code (x-ms-error-code, S3 <Code>), when it gave one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = "UploadError";
  }

  /** Retrying later may succeed (network, proxy, 5xx, throttling, clock skew after an NTP fix). */
  get retryable(): boolean {
    return ["network", "proxy", "server", "clock_skew", "tls"].includes(this.failure);
  }

  /** Opens the circuit breaker: retrying cannot help until someone fixes access. */
  get breaks(): boolean {
    return ["identity", "auth", "permission", "not_found"].includes(this.failure);
  }
}
