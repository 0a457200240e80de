import { defineCommand } from "citty";
import { describeProblem, MANIFEST, verifyMembers } from "../bundle/manifest";
import { AodError } from "../util/errors";
import { bundleFileArg, bundlePath, configArg, examples, jsonArg, readBundleMembers } from "./_shared";

export default defineCommand({
  meta: {
    name: "verify",
    description:
      "Check a bundle against its manifest.json: every member listed there is present with the same size and sha256, and nothing else is. " +
      "Exit 0 when all match; 1 naming each member that changed, is missing or is extra (or when the bundle predates manifests); 2 when the file is not a readable bundle. " +
      "The manifest covers the members, not the archive itself: the archive's own sha256 cannot live inside it (a later aod writes it to a sidecar file), so compare that yourself (sha256sum) when the whole file matters." +
      examples(
        "aod bundles verify aod_quick_1764000000000000000.tar.zst",
        "aod bundles verify /tmp/shared.tar.zst --json",
        "aod bundles verify case-1234.tar.zst && echo intact",
      ),
  },
  args: { ...bundleFileArg, ...configArg, ...jsonArg },
  async run({ args }) {
    const path = await bundlePath(args.file, args.config);
    const members = await readBundleMembers(path);
    const v = verifyMembers(members);
    if (v.status !== "checked") {
      const message =
        v.status === "no-manifest"
          ? `${path} has no ${MANIFEST}: it predates manifests (written by an older aod), so there is nothing to verify it against`
          : `${path}: ${v.error}`;
      if (args.json) {
        console.log(JSON.stringify({ file: path, ok: false, manifest: v.status === "bad-manifest", error: message }));
        process.exitCode = 1;
        return;
      }
      throw new AodError(message, 1);
    }
    if (args.json) {
      console.log(
        JSON.stringify({ file: path, ok: v.ok, manifest: true, members: v.checked, problems: v.problems }, null, 2),
      );
    } else if (v.ok) {
      console.log(`ok: ${v.checked} members match the manifest`);
    } else {
      console.log(
        `${path} does not match its manifest (${v.problems.length} ${v.problems.length === 1 ? "problem" : "problems"}, ${v.checked} members listed):`,
      );
      for (const p of v.problems) console.log(`  ${describeProblem(p)}`);
    }
    process.exitCode = v.ok ? 0 : 1;
  },
});
