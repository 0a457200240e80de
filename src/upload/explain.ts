// What `aod upload validate` says about a failure: the cause in words and
// what to do, per target. The error's own message follows it.
import type { UploadConfig } from "../config/upload";
import { proxyFor } from "./http";
import type { UploadError } from "./target";

export type ValidateStep = "credentials" | "write" | "read";

export function explain(e: UploadError, u: UploadConfig, step: ValidateStep): string {
  const azure = u.target === "azure_blob";
  const where = azure ? `${u.account_url}` : `${u.endpoint}`;
  const proxy = proxyFor(where);
  switch (e.failure) {
    case "identity":
      if (/not reachable|not an Azure VM/.test(e.message))
        return "no instance metadata service answers: this is not an Azure VM, or a firewall or the service's sandbox blocks 169.254.169.254 (use auth: sas off Azure)";
      return `no managed identity on this VM: assign one (az vm identity assign -g RG -n VM${u.client_id ? "; with client_id, that user-assigned identity must be attached to this VM" : ""}) and give it "Storage Blob Data Contributor" on the container, or use auth: sas`;
    case "network":
      return `cannot reach ${where}${proxy ? ` through the proxy ${proxy}` : ""}: check DNS, routes and firewalls${proxy ? "" : "; a host without direct internet access needs HTTPS_PROXY (and NO_PROXY for local names) in aod's environment"}`;
    case "proxy":
      return `the proxy ${proxy ?? "(HTTPS_PROXY)"} refused or failed the connection to ${where}: check the proxy's address and its allow list, or add the host to NO_PROXY`;
    case "tls":
      return "the server's certificate is not trusted: if it is signed by a private CA, give that CA's PEM file as upload.ca_file";
    case "clock_skew":
      return "the server says this host's clock is off: signatures carry the time; fix time sync (timedatectl, chrony) and try again";
    case "auth":
      return azure
        ? u.auth === "sas"
          ? "the SAS token was refused: it may be expired, for another container or account, or mistyped; make a new one with create+write (add read for validate)"
          : "the token was refused: the identity may belong to another tenant, or the account does not accept Entra ID (Azure AD) tokens"
        : "the S3 credentials were refused (wrong access key or secret, or the region is not the bucket's)";
    case "permission":
      return step === "read"
        ? "writing works but reading back is not allowed: uploads will work; validate cannot confirm the object (rights without read are fine for aod)"
        : azure
          ? `missing write permission on container ${u.container}: give the identity "Storage Blob Data Contributor" (or a role with blobs/write) on it; a SAS needs create and write`
          : `missing write permission on bucket ${u.bucket}: the policy needs s3:PutObject on ${u.bucket}/${u.prefix.split("{")[0]}*`;
    case "not_found":
      return azure
        ? `container ${u.container} does not exist in ${u.account_url} (or the account URL is wrong): create it (az storage container create -n ${u.container} --account-name …)`
        : `bucket ${u.bucket} does not exist at ${u.endpoint} (or path_style is wrong for this service)`;
    case "conflict":
      return "an object with this key and other bytes is already there";
    case "server":
      return "the service failed or is throttling: try again later";
    default:
      return "the service refused the request";
  }
}
