// Secrets for upload targets: only from root-only files or the environment,
// never logged. A file a non-root user could read or replace is refused with
// the command that fixes it.
import { lstatSync, readFileSync, statSync } from "node:fs";
import { errorCode, errorMessage } from "../util/errors";
import { UploadError } from "./target";

/** Throws unless path is a regular file only root can read and write (when aod runs as root). */
export function checkRootOnly(path: string, what: string): void {
  let st: ReturnType<typeof statSync>;
  let lst: ReturnType<typeof lstatSync>;
  try {
    st = statSync(path);
    lst = lstatSync(path);
  } catch (e) {
    throw new UploadError(`${what} ${path}: ${errorCode(e) === "ENOENT" ? "no such file" : errorMessage(e)}`, "auth");
  }
  if (!st.isFile()) throw new UploadError(`${what} ${path}: not a regular file`, "auth");
  if (process.geteuid?.() !== 0) return;
  const bad: string[] = [];
  if (st.uid !== 0) bad.push(`owned by uid ${st.uid}, not root`);
  if (st.mode & 0o077) bad.push(`readable or writable by others (mode ${(st.mode & 0o777).toString(8)})`);
  if (lst.isSymbolicLink() && lst.uid !== 0) bad.push("a symlink owned by a non-root user");
  if (bad.length)
    throw new UploadError(
      `${what} ${path} is ${bad.join(" and ")}: it holds a secret. Fix: chown root:root ${path} && chmod 600 ${path}`,
      "auth",
    );
}

export function readSecretFile(path: string, what: string): string {
  checkRootOnly(path, what);
  return readFileSync(path, "utf8");
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * S3 keys from credentials_file (the AWS shared-credentials format: `[default]`
 * or the only section, aws_access_key_id / aws_secret_access_key /
 * aws_session_token) or, without one, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN.
 */
export function s3Credentials(file: string | undefined, env: NodeJS.ProcessEnv = process.env): S3Credentials {
  if (!file) {
    const accessKeyId = env.AWS_ACCESS_KEY_ID ?? "";
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? "";
    if (!accessKeyId || !secretAccessKey)
      throw new UploadError(
        "no S3 credentials: set upload.credentials_file (a root-only file, AWS shared-credentials format) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in aod's environment",
        "auth",
      );
    return { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN && { sessionToken: env.AWS_SESSION_TOKEN }) };
  }
  const sections = new Map<string, Map<string, string>>();
  let cur: Map<string, string> | undefined;
  for (const raw of readSecretFile(file, "upload.credentials_file").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (sec) {
      cur = new Map();
      sections.set(sec[1]!, cur);
      continue;
    }
    const kv = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    if (!cur) {
      cur = new Map();
      sections.set("default", cur);
    }
    cur.set(kv[1]!.toLowerCase(), kv[2]!.trim());
  }
  const s = sections.get("default") ?? (sections.size === 1 ? [...sections.values()][0] : undefined);
  const accessKeyId = s?.get("aws_access_key_id") ?? "";
  const secretAccessKey = s?.get("aws_secret_access_key") ?? "";
  if (!accessKeyId || !secretAccessKey)
    throw new UploadError(
      `upload.credentials_file ${file}: no aws_access_key_id and aws_secret_access_key ${sections.size > 1 ? "in [default]" : "found"} (format: [default] then key = value lines)`,
      "auth",
    );
  const token = s?.get("aws_session_token");
  return { accessKeyId, secretAccessKey, ...(token && { sessionToken: token }) };
}
