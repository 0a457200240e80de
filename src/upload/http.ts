// fetch as the upload targets use it: the target's own extra CA (ca_file, for
// this target only, on top of the system's), a deadline per request, the
// proxy from HTTPS_PROXY/HTTP_PROXY/NO_PROXY (Bun's fetch honours them), and
// failures turned into UploadError with a kind validate can explain.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { errorCode, errorMessage } from "../util/errors";
import { UploadError, type UploadFailure } from "./target";

export interface HttpOptions {
  /** PEM file of extra CA certificates to trust for this target. */
  caFile?: string;
}

export interface HttpInit extends RequestInit {
  /** Give up after this long (default 60 s); a paced upload passes its own. */
  timeoutMs?: number;
}

export type HttpFetch = (url: string, init?: HttpInit) => Promise<Response>;

/** The proxy fetch will use for this URL, from the environment (for messages). */
export function proxyFor(url: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const u = new URL(url);
  const proxy =
    u.protocol === "https:"
      ? env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy
      : env.HTTP_PROXY || env.http_proxy;
  if (!proxy) return undefined;
  const noProxy = (env.NO_PROXY || env.no_proxy || "").split(/[\s,]+/).filter(Boolean);
  const host = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  for (const raw of noProxy) {
    if (raw === "*") return undefined;
    const [name, port] = raw.toLowerCase().split(/:(?=\d+$)/);
    if (port && port !== (u.port || (u.protocol === "https:" ? "443" : "80"))) continue;
    const n = name!.replace(/^\*?\./, "");
    if (host === n || host.endsWith(`.${n}`)) return undefined;
  }
  return proxy;
}

/** A fetch bound to one target's TLS settings. */
export function httpClient(opts: HttpOptions = {}): HttpFetch {
  let ca: string[] | undefined;
  if (opts.caFile) ca = [...rootCertificates, readFileSync(opts.caFile, "utf8")];
  return async (url, init = {}) => {
    const { timeoutMs = 60_000, signal, ...rest } = init;
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      return await fetch(url, {
        ...rest,
        signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
        ...(ca ? { tls: { ca } } : {}),
      });
    } catch (e) {
      throw networkError(url, e, deadline.aborted ? timeoutMs : undefined);
    }
  };
}

/** A fetch that threw: the network, TLS or the proxy failed (no HTTP answer). */
export function networkError(url: string, e: unknown, timedOutMs?: number): UploadError {
  const u = new URL(url);
  const where = `${u.protocol}//${u.host}`;
  const proxy = proxyFor(url);
  const code = errorCode(e) ?? "";
  const msg = errorMessage(e);
  if (timedOutMs !== undefined)
    return new UploadError(`${where}: no answer within ${Math.round(timedOutMs / 1000)} s`, "network");
  if (/CERT|SSL|TLS|SELF_SIGNED|ALTNAME|UNABLE_TO_(GET|VERIFY)/i.test(`${code} ${msg}`))
    return new UploadError(
      `${where}: TLS failed (${code || msg}); if the server uses a private CA, give its certificate as upload.ca_file`,
      "tls",
    );
  if (proxy)
    return new UploadError(
      `${where} through the proxy ${redactUrl(proxy)}: ${code || msg} (the proxy refused or failed the connection; check HTTPS_PROXY/NO_PROXY)`,
      "proxy",
    );
  return new UploadError(`${where}: ${code || msg}`, "network");
}

/**
 * How long a request carrying n body bytes may take: a minute, plus the
 * bytes at the body's pace (the cap may be shared by up to 16 uploads at
 * once) or, uncapped, at 64 KiB/s.
 */
export function transferTimeoutMs(n: number, bytesPerSec?: number): number {
  return 60_000 + (bytesPerSec ? (16 * n) / bytesPerSec : n / 65536) * 1000;
}

/** A URL without its user info or query (SAS tokens and proxy passwords live there). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return "(an unparsable URL)";
  }
}

const CLOCK = /RequestTimeTooSkewed|date header too old|request time.*(skew|too)|clock/i;

/**
 * A non-2xx answer as an UploadError. `doing` says what was attempted
 * ("put aod/v1/…/x.tar.zst"). Reads the body (Azure and S3 send XML with
 * <Code> and <Message>); the service's code decides the kind where it can.
 */
export async function responseError(res: Response, doing: string): Promise<UploadError> {
  let text = "";
  try {
    text = (await res.text()).slice(0, 65536);
  } catch {}
  const code = res.headers.get("x-ms-error-code") ?? /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? undefined;
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1]?.split("\n")[0]?.trim();
  // Azure puts the real cause of a 403 here ("Request date header too old", "Signature did not match").
  const authDetail = /<AuthenticationErrorDetail>([^<]*)</.exec(text)?.[1]?.split("\n")[0]?.trim();
  const detail = [code, message, authDetail].filter(Boolean).join(": ") || res.statusText;
  const s = res.status;
  let kind: UploadFailure;
  if (CLOCK.test(`${code} ${message ?? ""} ${authDetail ?? ""}`)) kind = "clock_skew";
  else if (/^(ExpiredToken|InvalidToken|TokenRefreshRequired)$/.test(code ?? "")) kind = "auth";
  // S3: a stalled (paced) body, or two conditional writes in flight: worth retrying.
  else if (/^(RequestTimeout|ConditionalRequestConflict)$/.test(code ?? "")) kind = "server";
  else if (s === 401) kind = "auth";
  else if (s === 403 && /failed to authenticate/i.test(message ?? ""))
    kind = "auth"; // Azurite says AuthorizationFailure for a bad SAS signature
  else if (s === 403)
    kind = /AuthorizationPermissionMismatch|AuthorizationFailure|AccessDenied|InsufficientAccountPermissions/i.test(
      code ?? "",
    )
      ? "permission"
      : "auth";
  else if (s === 404) kind = "not_found";
  else if (s === 409) kind = "conflict";
  else if (s >= 500 || s === 408 || s === 429 || s === 412) kind = "server";
  else kind = "client";
  return new UploadError(`${doing}: HTTP ${s} ${detail}`, kind, s, code);
}
