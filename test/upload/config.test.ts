// The upload: section: what each target needs, what it refuses, and the
// secrets' files (root-only).
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/config/problems";
import { parseConfigText } from "../../src/registry";
import { checkRootOnly, s3Credentials } from "../../src/upload/credentials";
import { hostId, objectKey } from "../../src/upload/host-id";
import { UploadError } from "../../src/upload/target";
import { isRoot, tempDir } from "../helpers";

function problems(yaml: string): string[] {
  try {
    parseConfigText(yaml, "t.yaml");
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
}

describe("upload config", () => {
  test("off by default; an azure_blob section with SAS loads with its defaults", () => {
    expect(parseConfigText("", "t.yaml").upload).toBeUndefined();
    const c = parseConfigText(
      "upload:\n  target: azure_blob\n  account_url: https://acct.blob.core.windows.net\n  container: aod\n  auth: sas\n  sas_token_file: /etc/aod/sas\n",
      "t.yaml",
    );
    expect(c.upload).toMatchObject({
      target: "azure_blob",
      prefix: "aod/v1/{host_id}/{date}/",
      concurrency: 2,
      redact: false,
      delete_after_upload: false,
    });
    expect(c.warnings).toEqual([]);
  });

  test("each target names what it lacks and refuses the other's keys", () => {
    expect(problems("upload:\n  target: azure_blob\n")).toEqual([
      "upload.account_url: required for target azure_blob: the storage account's blob URL, e.g. https://myaccount.blob.core.windows.net",
      "upload.container: required for target azure_blob: the container bundles go to",
      "upload.auth: required for target azure_blob: managed_identity (the VM's identity) or sas (a SAS token in sas_token_file)",
    ]);
    const p = problems(
      "upload:\n  target: s3\n  endpoint: https://s3.example\n  bucket: b\n  region: r\n  container: x\n  auth: sas\n",
    );
    expect(p).toContain("upload.container: only for target azure_blob; this upload's target is s3");
    expect(p).toContain("upload.auth: only for target azure_blob; this upload's target is s3");
    expect(problems("upload:\n  target: gcs\n")[0]).toStartWith("upload.target: expected");
  });

  test("sas needs its file; URLs must not carry secrets; prefix placeholders are checked", () => {
    const base = "upload:\n  target: azure_blob\n  account_url: https://a.blob.core.windows.net\n  container: c\n";
    expect(problems(`${base}  auth: sas\n`)).toEqual([
      "upload.sas_token_file: required with auth: sas: a root-only file holding the SAS token",
    ]);
    expect(
      problems(
        "upload:\n  target: azure_blob\n  account_url: https://a.blob.core.windows.net/?sv=2022&sig=x\n  container: c\n  auth: managed_identity\n",
      ),
    ).toEqual([
      "upload.account_url: no query or credentials in the URL: a SAS token goes in sas_token_file, S3 keys in credentials_file",
    ]);
    expect(problems(`${base}  auth: managed_identity\n  prefix: "aod/{host}/"\n`)).toEqual([
      "upload.prefix: unknown placeholder {host} (known: {host_id}, {date})",
    ]);
    expect(problems(`${base}  auth: managed_identity\n  prefix: /abs/\n`)[0]).toStartWith(
      "upload.prefix: a key prefix",
    );
    const c = parseConfigText(`${base}  auth: managed_identity\n  prefix: shared/\n`, "t.yaml");
    expect(c.warnings.join()).toContain("upload.prefix has no {host_id}");
  });

  test("object keys: prefix filled with the host id and the UTC day of detection", () => {
    const t = Date.UTC(2026, 11, 1, 23, 59, 59);
    expect(objectKey("aod/v1/{host_id}/{date}/", "h", t, "aod_quick_1.tar.zst")).toBe(
      "aod/v1/h/2026-12-01/aod_quick_1.tar.zst",
    );
    expect(objectKey("", "h", t, "x")).toBe("x");
    expect(objectKey("p", "h", t, "x")).toBe("p/x");
  });

  test("the host id is stable across calls, salted per state dir, and not the machine id", () => {
    const a = tempDir("aod-hostid-");
    const b = tempDir("aod-hostid-");
    const id = hostId(a);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(hostId(a)).toBe(id);
    expect(hostId(b)).not.toBe(id);
    expect(id).not.toContain(require("node:fs").readFileSync("/etc/machine-id", "utf8").trim());
  });
});

describe("upload secrets", () => {
  test("S3 keys from a credentials file ([default] or the only section) or the environment", () => {
    const d = tempDir("aod-creds-");
    const f = join(d, "creds");
    writeFileSync(f, "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n", { mode: 0o600 });
    expect(s3Credentials(f)).toEqual({ accessKeyId: "AK", secretAccessKey: "SK" });
    expect(
      s3Credentials(undefined, { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b", AWS_SESSION_TOKEN: "t" }),
    ).toEqual({ accessKeyId: "a", secretAccessKey: "b", sessionToken: "t" });
    expect(() => s3Credentials(undefined, {})).toThrow(/no S3 credentials/);
    writeFileSync(f, "[other]\nfoo = 1\n[x]\n", { mode: 0o600 });
    expect(() => s3Credentials(f)).toThrow(/no aws_access_key_id/);
  });

  test.skipIf(!isRoot)("a secret file readable by others or owned by another user is refused with the fix", () => {
    const d = tempDir("aod-secret-");
    const f = join(d, "sas");
    writeFileSync(f, "sv=x", { mode: 0o600 });
    expect(() => checkRootOnly(f, "upload.sas_token_file")).not.toThrow();
    chmodSync(f, 0o644);
    let err: unknown;
    try {
      checkRootOnly(f, "upload.sas_token_file");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UploadError);
    expect(String((err as Error).message)).toContain(`chown root:root ${f} && chmod 600 ${f}`);
    chmodSync(f, 0o600);
    chownSync(f, 1000, 1000);
    expect(() => checkRootOnly(f, "upload.sas_token_file")).toThrow(/owned by uid 1000/);
    expect(() => checkRootOnly(join(d, "none"), "upload.sas_token_file")).toThrow(/no such file/);
  });
});

describe("upload state dir", () => {
  test("a symlinked or foreign-owned state_dir is refused; a new one is made 0700", async () => {
    const { Uploader } = await import("../../src/upload/uploader");
    const { symlinkSync, mkdirSync, statSync } = await import("node:fs");
    const d = tempDir("aod-statedir-");
    const target = {
      kind: "s3" as const,
      where: "x",
      authenticate: async () => {},
      put: async () => "created" as const,
      get: async () => new Uint8Array(),
    };
    const config = parseConfigText(
      "upload:\n  target: s3\n  endpoint: http://127.0.0.1:1\n  bucket: b\n  region: r\n",
      "t.yaml",
    ).upload!;
    const make = (stateDir: string) =>
      new Uploader({ config, stateDir, batchesDir: join(d, "b"), target, hostId: "h" });
    const fresh = join(d, "fresh/state");
    make(fresh).state.close();
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    mkdirSync(join(d, "real"));
    symlinkSync(join(d, "real"), join(d, "link"));
    expect(() => make(join(d, "link"))).toThrow(/refusing state dir .* symlink/);
    if (isRoot) {
      mkdirSync(join(d, "theirs"));
      chownSync(join(d, "theirs"), 1000, 1000);
      expect(() => make(join(d, "theirs"))).toThrow(/owned by uid 1000/);
    }
  });
});
