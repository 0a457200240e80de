// Kerberos state of the cifs client: the cifs.spnego and cifs.idmap keys in
// /proc/keys (their descriptions: server, user, uid, security; a key's payload
// is never read, and /proc/keys does not show one) and klist's output (the
// tickets in the default credential cache collection, and the principals of
// the default keytab; `klist -K`, which prints keys, is never run).
import { readProc } from "../../host/procfs";
import { captureCommand, concat, enc } from "../capture";
import type { ActionContext, ActionOutput } from "../context";
import { defineAction } from "../spec";

/** Key types cifs uses. /proc/keys prints a type cut to 9 characters ("cifs.spne"). */
export const CIFS_KEY_TYPES = ["cifs.spnego", "cifs.idmap"];

export interface ProcKey {
  id: string;
  flags: string;
  usage: number;
  timeout: string;
  perm: string;
  uid: number;
  gid: number;
  type: string;
  /** The key's description as the key type describes it (for cifs keys: description, ": " data length). */
  description: string;
}

/** The cifs keys of /proc/keys text ("id flags usage timeout perm uid gid type description"). */
export function cifsKeys(text: string): ProcKey[] {
  const out: ProcKey[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+([0-9a-f]+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const type = CIFS_KEY_TYPES.find((t) => t === m[8] || (m[8]!.length >= 9 && t.startsWith(m[8]!)));
    if (!type) continue;
    out.push({
      id: m[1]!,
      flags: m[2]!,
      usage: Number(m[3]),
      timeout: m[4]!,
      perm: m[5]!,
      uid: Number(m[6]),
      gid: Number(m[7]),
      type,
      description: m[9]!,
    });
  }
  return out;
}

export function formatKeys(text: string | undefined): string {
  if (text === undefined) return "/proc/keys unreadable (kernel without CONFIG_KEYS?): no keys listed\n";
  const keys = cifsKeys(text);
  const head = `# cifs.spnego and cifs.idmap keys in /proc/keys (those aod may view; descriptions only): ${keys.length}\n`;
  if (!keys.length) return `${head}none\n`;
  return (
    head +
    keys
      .map(
        (k) =>
          `id=${k.id} type=${k.type} flags=${k.flags} usage=${k.usage} timeout=${k.timeout} perm=${k.perm} uid=${k.uid} gid=${k.gid} ${k.description}\n`,
      )
      .join("")
  );
}

/** The klist runs: tickets of every cache in the collection, principals of the default keytab. */
export const KLIST_RUNS = [
  ["klist", "-A"],
  ["klist", "-k"],
];

async function run(ctx: ActionContext): Promise<ActionOutput> {
  const parts: Uint8Array[] = [enc(formatKeys(readProc("/proc/keys")))];
  const size = () => parts.reduce((n, p) => n + p.length, 0);
  let note: string | undefined;
  let truncated = false;
  for (const argv of KLIST_RUNS) {
    if (ctx.signal.aborted) break;
    const r = await captureCommand(argv, { ...ctx, capBytes: Math.max(0, ctx.capBytes - size()) });
    if (r.exitStatus === 127 && r.note) {
      note = "klist not found: no tickets listed";
      parts.push(enc("\n# klist not found (krb5-user / krb5-workstation): Kerberos tickets not listed\n"));
      break;
    }
    // klist exits 1 when there is no cache or keytab; its message says so, and the action goes on.
    parts.push(enc(`\n# ${argv.join(" ")} (exit ${r.exitStatus})\n`), r.data);
    if (r.data.length && r.data[r.data.length - 1] !== 10) parts.push(enc("\n"));
    truncated ||= r.truncated;
  }
  const data = concat(...parts);
  const result: ActionOutput = {
    data: data.length > ctx.capBytes ? data.subarray(0, ctx.capBytes) : data,
    truncated: truncated || data.length > ctx.capBytes,
  };
  if (note) result.note = note;
  return result;
}

export const kerberos = defineAction({
  name: "kerberos",
  file: "kerberos.log",
  what: "cifs.spnego/cifs.idmap keys from /proc/keys (descriptions only) and klist's tickets",
  binaries: [
    { name: "klist", why: "the kerberos action lists /proc/keys only, without tickets (apt install krb5-user)" },
  ],
  run,
});
