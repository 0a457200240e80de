// The target an `upload:` section names, with its secrets checked (root-only
// files) before anything is sent.
import type { UploadConfig } from "../config/upload";
import { UPLOAD_DEFAULTS } from "../config/upload";
import { azureBlobTarget } from "./azure-blob";
import { checkRootOnly, s3Credentials } from "./credentials";
import { s3Target } from "./s3";
import type { UploadTarget } from "./target";

/** Throws UploadError (failure "auth") when a secret file is missing or not root-only. */
export function makeTarget(u: UploadConfig, env: NodeJS.ProcessEnv = process.env): UploadTarget {
  if (u.ca_file) checkReadable(u.ca_file);
  if (u.target === "azure_blob") {
    if (u.auth === "sas") checkRootOnly(u.sas_token_file!, "upload.sas_token_file");
    return azureBlobTarget({
      account_url: u.account_url!,
      container: u.container!,
      auth: u.auth!,
      ...(u.client_id && { client_id: u.client_id }),
      imds_endpoint: u.imds_endpoint ?? UPLOAD_DEFAULTS.imds_endpoint,
      ...(u.sas_token_file && { sas_token_file: u.sas_token_file }),
      ...(u.ca_file && { ca_file: u.ca_file }),
    });
  }
  return s3Target({
    endpoint: u.endpoint!,
    bucket: u.bucket!,
    region: u.region!,
    path_style: u.path_style,
    credentials: s3Credentials(u.credentials_file, env),
    ...(u.ca_file && { ca_file: u.ca_file }),
  });
}

function checkReadable(path: string): void {
  const f = Bun.file(path);
  if (f.size === 0) throw new Error(`upload.ca_file ${path}: missing or empty (a PEM file of CA certificates)`);
}
