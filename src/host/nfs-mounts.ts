// The NFS mounts of a mount table (/proc/<pid>/mountinfo), with what their
// super options say about the connection: server and export, NFS version,
// transport, the server's address, hard or soft. From the table's text alone:
// nothing is looked up on a mount, so a dead server cannot block the reader.
import { type MountInfo, parseMountinfo } from "./mountinfo";
import { NFS_FSTYPES } from "./nfs-mountstats";

export interface NfsMount {
  mount: MountInfo;
  /** "server:/export" split at the first ":/" (an IPv6 server keeps its brackets). */
  server: string;
  export: string;
  /** The super options as the kernel prints them ("rw,vers=4.1,...,addr=10.0.0.6"). */
  superOptions: string;
  /** The same, by name; a flag ("hard") maps to "". */
  options: ReadonlyMap<string, string>;
}

/** "a=1,b,c=x" by name (the first of a repeated name). */
export function parseOptions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of text.split(",")) {
    if (!o) continue;
    const eq = o.indexOf("=");
    const [k, v] = eq < 0 ? [o, ""] : [o.slice(0, eq), o.slice(eq + 1)];
    if (!out.has(k)) out.set(k, v);
  }
  return out;
}

/** The nfs and nfs4 mounts of mountinfo text, in the table's order. */
export function nfsMounts(text: string): NfsMount[] {
  const out: NfsMount[] = [];
  for (const line of text.split("\n")) {
    const [mount] = parseMountinfo(line);
    if (!mount || !NFS_FSTYPES.has(mount.fstype)) continue;
    // MountInfo has no super options: they are the field after "- fstype source".
    const f = line.split(" ");
    const superOptions = f[f.indexOf("-", 6) + 3] ?? "";
    const sep = mount.source.indexOf(":/");
    out.push({
      mount,
      server: sep < 0 ? mount.source : mount.source.slice(0, sep),
      export: sep < 0 ? "" : mount.source.slice(sep + 1),
      superOptions,
      options: parseOptions(superOptions),
    });
  }
  return out;
}
