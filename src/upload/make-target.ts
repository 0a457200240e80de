// The target an `upload:` section names, with its secrets checked (root-only
// files) before anything is sent, and the lane for a config.
import { join } from "node:path";
import { BATCHES } from "../bundle/output-dir";
import type { UploadConfig } from "../config/upload";
import { UPLOAD_DEFAULTS } from "../config/upload";
import type { Config } from "../config/validate";
import { AodError, errorMessage } from "../util/errors";
import { azureBlobTarget } from "./azure-blob";
import { checkRootOnly, s3Credentials } from "./credentials";
import { s3Target } from "./s3";
import type { UploadTarget } from "./target";
import { Uploader } from "./uploader";

/**
 * The upload lane of a config with `upload:` (the daemon's, `aod upload now`'s).
 * A state dir that is not ours or a secret file that is missing or not
 * root-only is a config problem: AodError, exit 2.
 */
export function makeUploader(config: Config, upload: UploadConfig): Uploader {
  try {
    return new Uploader({
      config: upload,
      stateDir: config.state_dir,
      batchesDir: join(config.aod_output_dir, BATCHES),
      target: makeTarget(upload),
    });
  } catch (e) {
    throw new AodError(`upload: ${errorMessage(e)}`, 2);
  }
}

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
