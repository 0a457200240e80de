// Where aod looks for an outside binary (journalctl, smbinfo, a custom
// action's command): the process PATH first, then the standard system
// directories, which a daemon's or sudo's minimal PATH may leave out.
export const FALLBACK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The full path of `name` (or `name` itself if it holds a slash and is executable); null if not found. */
export function findBinary(name: string): string | null {
  const path = process.env.PATH ? `${process.env.PATH}:${FALLBACK_PATH}` : FALLBACK_PATH;
  return Bun.which(name, { PATH: path });
}
