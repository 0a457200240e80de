// A redacted copy of a bundle file and its token map, both written atomically
// (mode 0600): what `aod bundles redact` writes and what upload sends with
// `redact: true`. The map is written first so a copy never exists without it.
import { rmSync, writeSync } from "node:fs";
import { MANIFEST } from "./manifest";
import { readMembers } from "./read";
import { redactMembers, type TokenKind } from "./redact";
import { writeBundleFile, writeFileAtomic } from "./write";

/** zstd level of the copy (collection.zstd_level's default). */
const LEVEL = 3;

export interface RedactedCopy {
  bytes: number;
  members: number;
  replaced: Record<TokenKind, number>;
}

/** Which file failed, so callers can say so. */
export class RedactWriteError extends Error {
  constructor(
    readonly path: string,
    readonly cause: unknown,
  ) {
    super(`cannot write ${path}`);
  }
}

export async function redactBundleFile(
  bundle: string,
  out: string,
  tokensPath: string,
  overwrite = false,
  members?: Map<string, Uint8Array>,
): Promise<RedactedCopy> {
  const all = members ?? (await readMembers(bundle));
  const r = redactMembers([...all].filter(([n]) => n !== MANIFEST).map(([name, bytes]) => ({ name, bytes })));
  const map = {
    note: "aod bundles redact: value -> token. This map undoes the redaction: keep it private, do not send it with the copy.",
    bundle,
    redacted: out,
    tokens: Object.fromEntries(r.tokens.values),
  };
  try {
    await writeFileAtomic(tokensPath, (fd) => writeSync(fd, `${JSON.stringify(map, null, 2)}\n`), overwrite);
  } catch (e) {
    throw new RedactWriteError(tokensPath, e);
  }
  try {
    const { bytes } = await writeBundleFile(
      out,
      r.members.map((m) => ({ name: m.name, data: m.bytes })),
      LEVEL,
      overwrite,
    );
    return { bytes, members: r.members.length, replaced: r.tokens.summary() as Record<TokenKind, number> };
  } catch (e) {
    rmSync(tokensPath, { force: true });
    throw new RedactWriteError(out, e);
  }
}
