// /proc/<pid>/mountinfo: every mount of a mount namespace with its id (the
// mnt_id /proc/<pid>/fdinfo gives for an open file), mount point and file
// system type. src/host/mounts.ts reads /proc/mounts for cifs mounts only;
// this reader sees every file system type, the ids, and other namespaces
// (a container's bind mount of a share lives in the container's table).
// Line: id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions

export interface MountInfo {
  id: number;
  parent: number;
  /** The mounted directory of the file system ("/" for a whole share, a subdirectory for a bind mount). */
  root: string;
  mountpoint: string;
  fstype: string;
  source: string;
}

const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o) => String.fromCharCode(Number.parseInt(o, 8)));

export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-", 6);
    if (dash < 0 || f.length < dash + 3) continue;
    const id = Number(f[0]);
    if (!Number.isInteger(id)) continue;
    out.push({
      id,
      parent: Number(f[1]),
      root: unescapeOctal(f[3]!),
      mountpoint: unescapeOctal(f[4]!),
      fstype: f[dash + 1]!,
      source: unescapeOctal(f[dash + 2]!),
    });
  }
  return out;
}

/**
 * The mount a path lies on, by its text alone (nothing is looked up): the
 * longest mount point that is the path or a directory above it; of mounts
 * stacked on one mount point, the last (the visible one).
 */
export function mountOfPath(path: string, mounts: readonly MountInfo[]): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const mp = m.mountpoint;
    const under = mp === "/" ? path.startsWith("/") : path === mp || path.startsWith(`${mp}/`);
    if (under && (!best || mp.length >= best.mountpoint.length)) best = m;
  }
  return best;
}
