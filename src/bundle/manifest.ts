// manifest.json: every other member of a bundle with its size and sha256,
// computed from the bytes the archive holds, so a bundle can be checked after
// it was copied, uploaded or edited (`aod bundles verify`). The archive's own
// sha256 cannot be inside it; a sidecar will carry it.
import { createHash } from "node:crypto";

export const MANIFEST = "manifest.json";
export const MANIFEST_SCHEMA_VERSION = 1;

export interface ManifestEntry {
  name: string;
  size: number;
  /** Lower-case hex. */
  sha256: string;
}

export interface Manifest {
  schema_version: number;
  members: ManifestEntry[];
}

const encoder = new TextEncoder();

/** A member's bytes as the archive stores them (strings as UTF-8). */
export const memberBytes = (data: Uint8Array | string): Uint8Array =>
  typeof data === "string" ? encoder.encode(data) : data;

export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** The manifest of these members, in their order; a member named manifest.json is left out. */
export function buildManifest(members: Iterable<{ name: string; bytes: Uint8Array }>): Manifest {
  const out: ManifestEntry[] = [];
  for (const m of members)
    if (m.name !== MANIFEST) out.push({ name: m.name, size: m.bytes.length, sha256: sha256Hex(m.bytes) });
  return { schema_version: MANIFEST_SCHEMA_VERSION, members: out };
}

export const manifestText = (m: Manifest): string => `${JSON.stringify(m, null, 2)}\n`;

export type ManifestProblem =
  | { name: string; problem: "changed"; size: number; sha256: string; expected: { size: number; sha256: string } }
  | { name: string; problem: "missing"; expected: { size: number; sha256: string } }
  | { name: string; problem: "extra"; size: number; sha256: string };

export type Verification =
  /** No manifest.json: the bundle was written by an aod older than manifests. */
  | { status: "no-manifest" }
  /** manifest.json is there but not a manifest this aod can read. */
  | { status: "bad-manifest"; error: string }
  | { status: "checked"; ok: boolean; checked: number; problems: ManifestProblem[] };

/** Parses manifest.json; throws with what is wrong. */
export function parseManifest(text: string): Manifest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`manifest.json is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const d = doc as Partial<Manifest> | null;
  if (typeof d !== "object" || d === null || typeof d.schema_version !== "number" || !Array.isArray(d.members))
    throw new Error("manifest.json lacks schema_version or members");
  if (d.schema_version > MANIFEST_SCHEMA_VERSION)
    throw new Error(
      `manifest.json has schema_version ${d.schema_version}; this aod reads ${MANIFEST_SCHEMA_VERSION} (use a newer aod)`,
    );
  for (const m of d.members as unknown[]) {
    const e = m as Partial<ManifestEntry> | null;
    if (
      typeof e !== "object" ||
      e === null ||
      typeof e.name !== "string" ||
      typeof e.size !== "number" ||
      typeof e.sha256 !== "string"
    )
      throw new Error(`manifest.json has a malformed member entry: ${JSON.stringify(m)}`);
  }
  return d as Manifest;
}

/**
 * Checks members (name → bytes, as read from the archive) against the
 * manifest.json among them: every listed member present with its size and
 * sha256, and no member that the manifest does not list.
 */
export function verifyMembers(members: Map<string, Uint8Array>): Verification {
  const raw = members.get(MANIFEST);
  if (!raw) return { status: "no-manifest" };
  let manifest: Manifest;
  try {
    manifest = parseManifest(new TextDecoder().decode(raw));
  } catch (e) {
    return { status: "bad-manifest", error: e instanceof Error ? e.message : String(e) };
  }
  const problems: ManifestProblem[] = [];
  const listed = new Set<string>();
  for (const want of manifest.members) {
    listed.add(want.name);
    const expected = { size: want.size, sha256: want.sha256.toLowerCase() };
    const got = members.get(want.name);
    if (!got) {
      problems.push({ name: want.name, problem: "missing", expected });
      continue;
    }
    const sha256 = sha256Hex(got);
    if (sha256 !== expected.sha256 || got.length !== expected.size)
      problems.push({ name: want.name, problem: "changed", size: got.length, sha256, expected });
  }
  for (const [name, bytes] of members)
    if (name !== MANIFEST && !listed.has(name))
      problems.push({ name, problem: "extra", size: bytes.length, sha256: sha256Hex(bytes) });
  return { status: "checked", ok: problems.length === 0, checked: manifest.members.length, problems };
}

/** One line per problem, for people. */
export function describeProblem(p: ManifestProblem): string {
  switch (p.problem) {
    case "changed": {
      const what = [
        p.size !== p.expected.size ? `size ${p.size} B, manifest says ${p.expected.size} B` : `size ${p.size} B`,
        p.sha256 !== p.expected.sha256
          ? `sha256 ${p.sha256.slice(0, 16)}…, manifest says ${p.expected.sha256.slice(0, 16)}…`
          : "",
      ].filter(Boolean);
      return `changed  ${p.name}: ${what.join("; ")}`;
    }
    case "missing":
      return `missing  ${p.name}: listed in the manifest (${p.expected.size} B), not in the archive`;
    case "extra":
      return `extra    ${p.name}: in the archive (${p.size} B), not listed in the manifest`;
  }
}
