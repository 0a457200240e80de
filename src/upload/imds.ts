// A managed identity's access token from the Azure instance metadata service
// (IMDS). IMDS answers only on the VM's own link-local address, so the request
// goes direct even when HTTPS_PROXY is set: a proxy could never reach it and
// would see the request for a token. Tokens are cached until 5 minutes before
// they expire, so a backlog of uploads asks IMDS once.
import { errorCode, errorMessage } from "../util/errors";
import { UploadError } from "./target";

export const IMDS_ENDPOINT = "http://169.254.169.254";
/** The audience of tokens for Azure Storage (blob, queue, file). */
export const STORAGE_RESOURCE = "https://storage.azure.com/";

export interface ImdsOptions {
  /** Base URL of IMDS (default the real link-local address; tests point it at a fake). */
  endpoint?: string;
  /** A user-assigned identity's client id; none = the VM's system-assigned (or only) identity. */
  clientId?: string;
  resource?: string;
  /** Per request (default 5 s): IMDS answers in milliseconds when it exists at all. */
  timeoutMs?: number;
}

/** Refresh this long before expiry, so a token never expires during a long upload's requests. */
const REFRESH_BEFORE_MS = 5 * 60_000;

/** Tokens of one identity for one resource, cached. */
export class ManagedIdentity {
  readonly endpoint: string;
  private cached?: { token: string; refreshAt: number };
  private pending?: Promise<string>;

  constructor(private readonly opts: ImdsOptions = {}) {
    this.endpoint = (opts.endpoint ?? IMDS_ENDPOINT).replace(/\/+$/, "");
  }

  /** A valid token, from the cache or from IMDS. Throws UploadError ("identity", or "server" when IMDS is busy). */
  async token(signal?: AbortSignal): Promise<string> {
    if (this.cached && Date.now() < this.cached.refreshAt) return this.cached.token;
    // Concurrent uploads share one request instead of each asking IMDS.
    this.pending ??= this.fetchToken(signal).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forget the cached token (the service rejected it: revoked, or the role changed). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async fetchToken(signal?: AbortSignal): Promise<string> {
    const q = new URLSearchParams({ "api-version": "2018-02-01", resource: this.opts.resource ?? STORAGE_RESOURCE });
    if (this.opts.clientId) q.set("client_id", this.opts.clientId);
    const url = `${this.endpoint}/metadata/identity/oauth2/token?${q}`;
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    const deadline = AbortSignal.timeout(timeoutMs);
    const host = new URL(this.endpoint).hostname;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { Metadata: "true" },
        proxy: false,
        redirect: "error",
        signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
      });
    } catch (e) {
      if (signal?.aborted)
        throw new UploadError(`the instance metadata service at ${this.endpoint}: aborted`, "network");
      const why = deadline.aborted ? `no answer within ${timeoutMs / 1000} s` : errorCode(e) || errorMessage(e);
      throw new UploadError(
        `the instance metadata service at ${this.endpoint} is not reachable (${why}): this is not an Azure VM, or a firewall blocks ${host}`,
        "identity",
      );
    }
    const text = await res.text().catch(() => "");
    let json: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object") json = parsed as Record<string, unknown>;
    } catch {}
    const str = (k: string) => (typeof json[k] === "string" || typeof json[k] === "number" ? String(json[k]) : "");
    if (res.ok && str("access_token")) {
      const token = str("access_token");
      // expires_on is epoch seconds (as a string); expires_in is the fallback.
      const on = Number(str("expires_on"));
      const inSec = Number(str("expires_in"));
      const expiresAt = on > 0 ? on * 1000 : Date.now() + (inSec > 0 ? inSec * 1000 : 0);
      this.cached = { token, refreshAt: expiresAt - REFRESH_BEFORE_MS };
      return token;
    }
    const said = str("error_description") || str("error") || text.slice(0, 200) || res.statusText;
    const who = this.opts.clientId ? ` with client_id ${this.opts.clientId}` : "";
    if (res.ok)
      throw new UploadError(`the instance metadata service at ${this.endpoint} sent no access_token`, "identity");
    // IMDS asks callers to retry these: throttled, or failing for a while.
    if (res.status === 429 || res.status >= 500)
      throw new UploadError(
        `the instance metadata service at ${this.endpoint} is busy (HTTP ${res.status} ${said}); will retry`,
        "server",
        res.status,
      );
    // Azure's IMDS says 404/410 while it updates, but another cloud's metadata
    // service at the same address says 404 for good: the breaker's probe covers both.
    if (res.status === 404 || res.status === 410)
      throw new UploadError(
        `${this.endpoint} has no managed identity endpoint (HTTP ${res.status}): not an Azure VM, or its instance metadata service is updating`,
        "identity",
        res.status,
      );
    if (/identity not found/i.test(said))
      throw new UploadError(
        `no managed identity${who} on this VM (IMDS at ${this.endpoint} said: ${said})`,
        "identity",
        res.status,
      );
    throw new UploadError(
      `the instance metadata service at ${this.endpoint} refused a token${who} (HTTP ${res.status}: ${said})`,
      "identity",
      res.status,
    );
  }
}
