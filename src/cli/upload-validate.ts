import { defineCommand } from "citty";
import { ensurePrivateDir } from "../bundle/output-dir";
import { bytesBody } from "../upload/body";
import { explain, type ValidateStep } from "../upload/explain";
import { hostId, objectKey } from "../upload/host-id";
import { makeTarget } from "../upload/make-target";
import { UploadError, type UploadTarget } from "../upload/target";
import { AodError, errorMessage } from "../util/errors";
import { configArg, examples } from "./_shared";
import { uploadConfig } from "./_upload";

export default defineCommand({
  meta: {
    name: "validate",
    description:
      "Check the `upload:` section end to end, the way the daemon will use it: resolve the credentials (read the SAS or credentials file, or get a managed-identity token), write a small probe object under the prefix, and read it back. Each failure is explained: no identity on this VM, wrong container or bucket, clock skew, missing write permission, the proxy refused, an untrusted certificate. " +
      "Run it as the service runs (root, the same HTTPS_PROXY/NO_PROXY). The probe object (aod-validate-<time>.txt, a few bytes) stays: aod needs no delete right. Exit 0 when writing works, 1 when not, 2 for a config problem." +
      examples(
        "sudo aod upload validate",
        "sudo HTTPS_PROXY=http://proxy:3128 aod upload validate -c /etc/aod/config.yaml",
      ),
  },
  args: { ...configArg },
  async run({ args }) {
    const { config, upload } = uploadConfig(args.config);
    const say = (ok: boolean | "warn", what: string, detail?: string) =>
      console.log(
        `${ok === true ? "ok  " : ok === "warn" ? "warn" : "FAIL"} ${what}${detail ? `\n     ${detail}` : ""}`,
      );
    const fail = (step: ValidateStep, what: string, e: unknown): never => {
      const ue = e instanceof UploadError ? e : new UploadError(errorMessage(e), "client");
      say(false, what, `${explain(ue, upload, step)}\n     (${ue.message})`);
      throw new AodError("upload validate: failed", 1);
    };

    let target: UploadTarget;
    try {
      target = makeTarget(upload);
      await target.authenticate();
    } catch (e) {
      return fail("credentials", "credentials", e);
    }
    say(
      true,
      "credentials",
      upload.target === "azure_blob"
        ? `${upload.auth === "sas" ? `SAS token from ${upload.sas_token_file}` : "managed identity token"}`
        : `S3 keys from ${upload.credentials_file ?? "the environment"}`,
    );

    const ns = BigInt(Date.now()) * 1_000_000n;
    ensurePrivateDir(config.state_dir, "state dir", "state_dir"); // the host id's salt lives there
    const key = objectKey(upload.prefix, hostId(config.state_dir), Date.now(), `aod-validate-${ns}.txt`);
    const probe = new TextEncoder().encode(`aod upload validate probe ${new Date().toISOString()}\n`);
    const body = bytesBody(probe);
    try {
      await target.put({
        key,
        body,
        contentType: "text/plain",
        metadata: { sha256: body.sha256Hex },
      });
    } catch (e) {
      return fail("write", `write ${target.where}/${key}`, e);
    }
    say(true, `write ${target.where}/${key}`);

    try {
      const back = await target.get(key);
      if (Buffer.compare(Buffer.from(back), Buffer.from(probe)) !== 0)
        return fail(
          "read",
          "read back",
          new UploadError("the object read back differs from what was written", "client"),
        );
      say(true, "read back: the same bytes");
    } catch (e) {
      if (e instanceof UploadError && e.failure === "permission") say("warn", "read back", explain(e, upload, "read"));
      else return fail("read", "read back", e);
    }
    console.log(
      `upload to ${target.kind} ${target.where} works; bundles go under ${key.slice(0, key.lastIndexOf("/") + 1)}`,
    );
  },
});
