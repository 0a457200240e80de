// The `upload:` section (src/upload): its shape, and its meaning beyond the
// shape: which keys each target needs, URLs that parse, and files that exist.
// Credential files must be root-only; that is checked when they are read
// (src/upload/credentials.ts), where the daemon and `aod upload` fail clearly.
import * as v from "valibot";
import type { Path } from "./path";
import { describe } from "./problems";

const absPath = v.pipe(v.string(), v.startsWith("/", "an absolute path"));
const positive = v.pipe(v.number(), v.gtValue(0));

export const UPLOAD_DEFAULTS = {
  prefix: "aod/v1/{host_id}/{date}/",
  imds_endpoint: "http://169.254.169.254",
} as const;

export const UploadSchema = v.strictObject({
  target: v.picklist(["azure_blob", "s3"]),
  // azure_blob
  account_url: v.optional(v.string()),
  container: v.optional(v.string()),
  auth: v.optional(v.picklist(["managed_identity", "sas"])),
  client_id: v.optional(v.string()),
  imds_endpoint: v.optional(v.string()),
  sas_token_file: v.optional(absPath),
  // s3
  endpoint: v.optional(v.string()),
  bucket: v.optional(v.string()),
  region: v.optional(v.string()),
  path_style: v.optional(v.boolean(), false),
  credentials_file: v.optional(absPath),
  // both
  prefix: v.optional(v.string(), UPLOAD_DEFAULTS.prefix),
  max_mbps: v.optional(positive),
  ca_file: v.optional(absPath),
  redact: v.optional(v.boolean(), false),
  delete_after_upload: v.optional(v.boolean(), false),
  concurrency: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(16)), 2),
  retry_max_sec: v.optional(positive, 300),
  breaker_probe_sec: v.optional(positive, 300),
  rescan_sec: v.optional(positive, 300),
});

export type UploadConfig = v.InferOutput<typeof UploadSchema>;

const AZURE_ONLY = ["account_url", "container", "auth", "client_id", "imds_endpoint", "sas_token_file"] as const;
const S3_ONLY = ["endpoint", "bucket", "region", "credentials_file"] as const;

function checkUrl(u: string | undefined, at: Path, add: (at: Path, m: string) => void): void {
  if (u === undefined) return;
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    add(at, `expected an http(s) URL, found ${describe(u)}`);
    return;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    add(at, `expected an http(s) URL, found ${describe(u)}`);
    return;
  }
  if (url.search || url.username || url.password)
    add(at, "no query or credentials in the URL: a SAS token goes in sas_token_file, S3 keys in credentials_file");
}

export function checkUpload(
  u: UploadConfig,
  add: (at: Path, message: string) => void,
  warn: (message: string) => void,
): void {
  const at = (k: string): Path => ["upload", k];
  const need = (k: keyof UploadConfig, why: string) => {
    if (u[k] === undefined || u[k] === "") add(at(k), `required for target ${u.target}: ${why}`);
  };
  const forbid = (keys: readonly (keyof UploadConfig)[], other: string) => {
    for (const k of keys)
      if (u[k] !== undefined) add(at(k), `only for target ${other}; this upload's target is ${u.target}`);
  };
  if (u.target === "azure_blob") {
    need("account_url", "the storage account's blob URL, e.g. https://myaccount.blob.core.windows.net");
    need("container", "the container bundles go to");
    need("auth", "managed_identity (the VM's identity) or sas (a SAS token in sas_token_file)");
    checkUrl(u.account_url, at("account_url"), add);
    checkUrl(u.imds_endpoint, at("imds_endpoint"), add);
    if (u.auth === "sas" && !u.sas_token_file)
      add(at("sas_token_file"), "required with auth: sas: a root-only file holding the SAS token");
    if (u.auth === "managed_identity" && u.sas_token_file)
      add(at("sas_token_file"), "only with auth: sas; this upload uses the managed identity");
    if (u.auth !== "managed_identity" && (u.client_id || u.imds_endpoint))
      add(at(u.client_id ? "client_id" : "imds_endpoint"), "only with auth: managed_identity");
    if (u.account_url?.startsWith("http:"))
      warn(
        "upload.account_url is plain http: tokens and bundles cross the network unencrypted (fine for a local emulator only)",
      );
    forbid(S3_ONLY, "s3");
    if (u.path_style)
      add(at("path_style"), "only for target s3 (an azure_blob account_url may be path-style as it is)");
  } else {
    need("endpoint", "the S3 service URL, e.g. https://s3.eu-west-1.amazonaws.com");
    need("bucket", "the bucket bundles go to");
    need("region", "the bucket's region, e.g. us-east-1 (signatures include it)");
    checkUrl(u.endpoint, at("endpoint"), add);
    if (u.endpoint?.startsWith("http:"))
      warn("upload.endpoint is plain http: bundles cross the network unencrypted (fine for a local server only)");
    forbid(AZURE_ONLY, "azure_blob");
  }
  if (!u.prefix.includes("{host_id}"))
    warn(
      "upload.prefix has no {host_id}: bundles of several hosts sharing the target could collide (names are per host)",
    );
  if (/^\/|\.\.|\/\//.test(u.prefix.replaceAll("{host_id}", "x").replaceAll("{date}", "x")))
    add(at("prefix"), `a key prefix has no leading "/", no "//" and no "..", found ${describe(u.prefix)}`);
  const unknown = u.prefix.match(/\{[^}]*\}/g)?.filter((p) => p !== "{host_id}" && p !== "{date}");
  if (unknown?.length) add(at("prefix"), `unknown placeholder ${unknown[0]} (known: {host_id}, {date})`);
  if (u.delete_after_upload && u.redact)
    warn("upload: delete_after_upload with redact deletes the original bundle once its redacted copy is uploaded");
}
