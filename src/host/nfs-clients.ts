// Which mount an NFS event is about. The kernel's NFS events carry the RPC
// client id (cl_clid), not the mount: every mounted NFS superblock has its own
// client (cloned from its server's), and nothing in procfs names a client's
// mount. debugfs does name its transport: sunrpc/rpc_clnt/<hex id>/xprt/info has
// the server's address and port (measured on Debian 6.1 and 6.12). So an
// event's mount is narrowed to the NFS mounts of that address and NFS version:
// the export is named when one mount is left, else every candidate is listed;
// never guessed. Without debugfs only the version narrows.
import { readFileSync } from "node:fs";
import { type NfsMount, nfsMounts } from "./nfs-mounts";

export const RPC_CLNT_DIR = "/sys/kernel/debug/sunrpc/rpc_clnt";
const MOUNTINFO = "/proc/self/mountinfo";

/** An RPC client's server address and port, from debugfs; undefined when gone or unreadable. */
export function rpcClientServer(id: number, dir = RPC_CLNT_DIR): { addr: string; port: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`${dir}/${id.toString(16)}/xprt/info`, "utf8"); // directories are named in hex
  } catch {
    return undefined;
  }
  const addr = /^addr:\s*(\S+)/m.exec(text)?.[1];
  const port = Number(/^port:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  return addr ? { addr, port } : undefined;
}

/** Where an event happened, as far as the kernel lets us tell. */
export interface NfsWhere {
  /** The server's address (from the client's transport). */
  server?: string;
  /** "server:/export" when one mount is left. */
  share?: string;
  /** "server:/export on /mountpoint" of every mount left, when more than one. */
  candidates?: string[];
}

/** The major NFS version of a mount ("vers=4.1" → 4; nfs4 fstype without vers → 4). */
export function mountVersion(m: NfsMount): number | undefined {
  const v = m.options.get("vers") ?? m.options.get("nfsvers");
  if (v) return Number.parseInt(v, 10);
  return m.mount.fstype === "nfs4" ? 4 : undefined;
}

/** The mounts an event of (server address, NFS version) may be about. */
export function candidateMounts(mounts: readonly NfsMount[], addr: string | undefined, version: number): NfsMount[] {
  return mounts.filter((m) => mountVersion(m) === version && (!addr || m.options.get("addr") === addr));
}

export function describeWhere(server: string | undefined, cands: readonly NfsMount[]): NfsWhere {
  const where: NfsWhere = server ? { server } : {};
  const shares = [...new Set(cands.map((m) => m.mount.source))];
  if (shares.length === 1) where.share = shares[0];
  else if (cands.length > 1) where.candidates = cands.map((m) => `${m.mount.source} on ${m.mount.mountpoint}`);
  return where;
}

/**
 * Resolves (client id, version) to a mount: the mount table and each client's
 * server are cached for `minRefreshMs`.
 */
export class NfsClientResolver {
  private readonly servers = new Map<number, { addr: string; port: number } | undefined>();
  private mounts: NfsMount[] = [];
  private readAt = -Infinity;

  constructor(
    private readonly paths = { rpcClnt: RPC_CLNT_DIR, mountinfo: MOUNTINFO },
    // Short: an event must not be named after a mount that is gone (automounted
    // submounts come and go); at most a few reads a second under `aod trace`.
    private readonly minRefreshMs = 250,
    private readonly now: () => number = () => performance.now(),
  ) {}

  private refresh(): void {
    this.readAt = this.now();
    try {
      this.mounts = nfsMounts(readFileSync(this.paths.mountinfo, "utf8"));
    } catch {
      this.mounts = [];
    }
    this.servers.clear();
  }

  resolve(clientId: number, version: number): NfsWhere {
    // Mounts come and go (automounted submounts expire) and client ids are reused: both are re-read.
    if (this.now() - this.readAt >= this.minRefreshMs) this.refresh();
    if (!this.servers.has(clientId)) this.servers.set(clientId, rpcClientServer(clientId, this.paths.rpcClnt));
    const server = this.servers.get(clientId);
    return describeWhere(server?.addr, candidateMounts(this.mounts, server?.addr, version));
  }
}
