import { existsSync, type Stats, statSync } from "node:fs";
import { resolve } from "node:path";
import { defineCommand } from "citty";
import { type RedactedCopy, RedactWriteError, redactBundleFile } from "../bundle/redact-file";
import { AodError, errorCode, errorMessage, UsageError } from "../util/errors";
import { bundleFileArg, bundlePath, configArg, examples, jsonArg, readBundleMembers } from "./_shared";

const statOrUndefined = (p: string): Stats | undefined => {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
};

export default defineCommand({
  meta: {
    name: "redact",
    description:
      "Write a copy of a bundle to share outside your organisation: host names, IP addresses (v4 and v6), user and domain names and share paths (\\\\server\\share, //server/share, server:/export) become stable tokens — the same value gets the same token in every member (host-1, ip-1, user-1, domain-1, share-1). " +
      "Values come from the bundle itself: its host and the servers and shares of anomaly.json, cifs/nfs mount lines, username=/user=/domain= options, DebugData's Hostname:, and any IP literal; password= values become ***. " +
      "JSON members stay valid JSON (only their strings change); the copy gets a new manifest.json, so `aod bundles verify OUT` passes. " +
      "The value → token map goes to <OUT>.tokens.json (mode 0600): it undoes the redaction, so keep it and do not send it. " +
      "OUT is written atomically with mode 0600; an existing OUT (or token map) is kept unless --force. " +
      "Not replaced: names none of those places mention, a share's name outside a share path (a mount point named after it), user and domain names under 3 characters (host names under 2) and the users root/nobody/guest outside user= options. Read the copy before you send it." +
      examples(
        "aod bundles redact aod_quick_1764000000000000000.tar.zst -o case-1234.tar.zst",
        "aod bundles redact /var/log/aod/batches/aod_quick_1764000000000000000.tar.zst -o /tmp/shared.tar.zst --force",
        "aod bundles verify case-1234.tar.zst   # the copy matches its new manifest",
      ),
  },
  args: {
    ...bundleFileArg,
    output: {
      type: "string",
      alias: "o",
      description: "Where to write the redacted copy (required; the token map goes next to it as <OUT>.tokens.json)",
      valueHint: "OUT",
    },
    force: { type: "boolean", description: "Replace an existing OUT and <OUT>.tokens.json", default: false },
    ...configArg,
    ...jsonArg,
  },
  async run({ args }) {
    if (!args.output) throw new UsageError("-o OUT is required: where to write the redacted copy");
    const path = await bundlePath(args.file, args.config);
    const out = resolve(args.output);
    const tokensPath = `${out}.tokens.json`;
    const inStat = statOrUndefined(path);
    for (const p of [out, tokensPath]) {
      const st = statOrUndefined(p);
      if (resolve(p) === resolve(path) || (st && inStat && st.dev === inStat.dev && st.ino === inStat.ino))
        throw new UsageError(`-o ${args.output}: that is the bundle being redacted; write the copy elsewhere`);
      if (st?.isDirectory()) throw new UsageError(`-o ${args.output}: ${p} is a directory; give a file name`);
      if (st && !args.force) throw new UsageError(`${p} exists; remove it or pass --force to replace it`);
    }
    if (!existsSync(resolve(out, ".."))) throw new UsageError(`-o ${args.output}: no such directory`);

    const members = await readBundleMembers(path);
    let copy: RedactedCopy;
    try {
      copy = await redactBundleFile(resolve(path), out, tokensPath, args.force, members);
    } catch (e) {
      if (!(e instanceof RedactWriteError)) throw e;
      throw errorCode(e.cause) === "EEXIST"
        ? new UsageError(`${e.path} appeared meanwhile; not replaced (use --force)`)
        : new AodError(`cannot write ${e.path}: ${errorMessage(e.cause)}`, 1);
    }
    const { bytes, replaced: counts } = copy;
    if (args.json)
      return console.log(
        JSON.stringify(
          { file: path, output: out, bytes, tokens_file: tokensPath, members: copy.members, replaced: counts },
          null,
          2,
        ),
      );
    const what = Object.entries(counts)
      .map(([k, n]) => `${n} ${k}${n === 1 ? "" : "s"}`)
      .join(", ");
    console.log(`wrote ${out} (${copy.members} members + manifest.json; replaced ${what})`);
    console.log(`token map: ${tokensPath} (mode 0600; it undoes the redaction: keep it, do not send it)`);
  },
});
