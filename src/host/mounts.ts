// cifs mounts from /proc/mounts, and which of them aod cannot trace: SMB1
// (vers=1.0) requests go through other kernel paths than the SMB2 ones the
// tools hook. `aod trace` and `aod check` report each such mount.
import { readFileSync } from "node:fs";

export interface CifsMount {
  source: string;
  mountpoint: string;
  options: string[];
  /** The vers= option, if given. */
  version?: string;
}

const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o) => String.fromCharCode(Number.parseInt(o, 8)));

export function cifsMounts(text?: string): CifsMount[] {
  let src = text;
  if (src === undefined) {
    try {
      src = readFileSync("/proc/mounts", "utf8");
    } catch {
      return [];
    }
  }
  const out: CifsMount[] = [];
  for (const line of src.split("\n")) {
    const [source, mountpoint, type, opts] = line.split(" ");
    if (!source || !mountpoint || (type !== "cifs" && type !== "smb3")) continue;
    const options = (opts ?? "").split(",");
    const vers = options.find((o) => o.startsWith("vers="))?.slice(5);
    out.push({ source: unescapeOctal(source), mountpoint: unescapeOctal(mountpoint), options, version: vers });
  }
  return out;
}

export const isSmb1 = (m: CifsMount) => m.version === "1.0" || m.version === "1";

/** One message per SMB1 mount, e.g. for `aod trace` and `aod check`. */
export function smb1Warnings(text?: string): string[] {
  return cifsMounts(text)
    .filter(isSmb1)
    .map(
      (m) =>
        `${m.mountpoint} (${m.source}) uses SMB1 (vers=${m.version}): aod traces SMB2/3 only; its commands are not traced`,
    );
}
