import { basename, resolve } from "node:path";
import { defineCommand } from "citty";
import { BUNDLE_RE } from "../bundle/names";
import { makeUploader } from "../upload/make-target";
import { AodError, UsageError } from "../util/errors";
import { bundlePath, configArg, examples } from "./_shared";
import { uploadConfig } from "./_upload";

export default defineCommand({
  meta: {
    name: "now",
    description:
      "Upload now, in the foreground: FILE (a bundle path, or a name in the bundle directory), or every bundle not uploaded yet — ignoring retry times and the breaker. Uses the same state as the daemon (it may run meanwhile: puts are idempotent, nothing goes twice). Prints one line per bundle as it finishes. Exit 0 when all went, 1 when any did not." +
      examples("sudo aod upload now", "sudo aod upload now aod_quick_1764000000000000000.tar.zst"),
  },
  args: {
    file: { type: "positional", required: false, description: "One bundle (default: all pending)", valueHint: "FILE" },
    ...configArg,
  },
  async run({ args }) {
    const { config, upload } = uploadConfig(args.config);
    let paths: string[] | undefined;
    if (args.file) {
      const p = resolve(await bundlePath(args.file, args.config));
      if (!BUNDLE_RE.test(basename(p)))
        throw new UsageError(`${args.file}: not an aod bundle name (aod_quick_<ns>.tar.zst)`);
      paths = [p];
    }
    const up = makeUploader(config, upload);
    let done = 0;
    let bad = 0;
    try {
      const results = await up.uploadNow(paths, (o) => {
        done++;
        const ok = o.result === "uploaded" || o.result === "already";
        if (!ok) bad++;
        const what =
          o.result === "uploaded"
            ? `uploaded ${o.key} (${o.bytes} B)`
            : o.result === "already"
              ? `already uploaded${o.key ? ` as ${o.key}` : ""}`
              : o.result === "missing"
                ? "no such file"
                : `${o.result === "breaker" ? "refused (access)" : o.result === "retry" ? "failed (will be retried)" : "failed"}: ${o.error}`;
        console.log(`[${done}] ${o.file}: ${what}`);
      });
      if (!results.length) console.log("nothing to upload: every bundle is uploaded");
      else console.log(`${results.length - bad} of ${results.length} uploaded`);
    } finally {
      await up.stop(0);
    }
    if (bad)
      throw new AodError(
        `upload now: ${bad} bundle${bad === 1 ? "" : "s"} not uploaded (aod upload validate explains access problems)`,
        1,
      );
  },
});
