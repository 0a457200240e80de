// Tree id → share name (\\server\share), from /proc/fs/cifs/DebugData. The
// kernel prints, per session, "SessionId: 0x…", then per share a line
// "N) \\server\share Mounts: …" (or "0) IPC: \\server\IPC$ …") followed by
// "tid: 0x…". Used by `aod trace` and the daemon's anomaly reports.
import { readFileSync } from "node:fs";

export const DEBUGDATA_PATH = "/proc/fs/cifs/DebugData";

export interface ShareEntry {
  sessionId?: bigint;
  treeId: number;
  share: string;
}

export function parseDebugData(text: string): ShareEntry[] {
  const out: ShareEntry[] = [];
  let session: bigint | undefined;
  let share: string | undefined;
  for (const line of text.split("\n")) {
    const ses = /\bSessionId:\s*0x([0-9a-fA-F]+)/.exec(line);
    if (ses) {
      session = BigInt(`0x${ses[1]}`);
      share = undefined;
    }
    const sh = /^\s*\d+\)\s+(?:IPC:\s+)?(\\\\\S+)/.exec(line);
    if (sh) share = sh[1];
    const tid = /\btid:\s*0x([0-9a-fA-F]+)/.exec(line);
    if (tid && share) {
      out.push({ sessionId: session, treeId: Number.parseInt(tid[1]!, 16), share });
      share = undefined;
    }
  }
  return out;
}

/**
 * The share of (session id, tree id): the entry of that session and tree, else
 * the only entry of that tree (a tree id seen in one session only).
 */
export function findShare(entries: ShareEntry[], sessionId: bigint | undefined, treeId: number): string | undefined {
  const exact = entries.find((e) => e.treeId === treeId && e.sessionId === sessionId);
  if (exact) return exact.share;
  const byTree = entries.filter((e) => e.treeId === treeId);
  return byTree.length === 1 ? byTree[0]!.share : undefined;
}

/** Resolves (session id, tree id) to a share; re-reads DebugData on a miss, at most every `minRefreshMs`. */
export class ShareResolver {
  private entries: ShareEntry[] = [];
  private readAt = -Infinity;

  constructor(
    private readonly path = DEBUGDATA_PATH,
    private readonly minRefreshMs = 5000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  private refresh(): void {
    this.readAt = this.now();
    try {
      this.entries = parseDebugData(readFileSync(this.path, "utf8"));
    } catch {
      this.entries = [];
    }
  }

  resolve(sessionId: bigint, treeId: number): string | undefined {
    if (!treeId) return undefined;
    let s = findShare(this.entries, sessionId, treeId);
    if (!s && this.now() - this.readAt >= this.minRefreshMs) {
      this.refresh();
      s = findShare(this.entries, sessionId, treeId);
    }
    return s;
  }
}

/**
 * Adds `share` to event lines that lack it, from the DebugData an anomaly's
 * `debugdata` action collected (the state at detection time), else from
 * /proc/fs/cifs/DebugData now. Lines without a tree id, or whose tree is gone,
 * are returned unchanged. (The daemon's `enrich` hook.)
 */
export function enrichWithShares<L extends { session_id?: string; tree_id?: string; share?: string }>(
  lines: L[],
  actionsData?: Map<string, Uint8Array>,
): L[] {
  if (!lines.some((l) => !l.share && l.tree_id && l.tree_id !== "0x0")) return lines;
  let text: string | undefined;
  const collected = actionsData?.get("debugdata");
  if (collected?.length) text = new TextDecoder().decode(collected);
  else
    try {
      text = readFileSync(DEBUGDATA_PATH, "utf8");
    } catch {
      return lines;
    }
  const entries = parseDebugData(text);
  return lines.map((l) => {
    if (l.share || !l.tree_id) return l;
    const tid = Number.parseInt(l.tree_id, 16);
    let ses: bigint | undefined;
    try {
      ses = l.session_id ? BigInt(l.session_id) : undefined;
    } catch {}
    const share = Number.isFinite(tid) && tid ? findShare(entries, ses, tid) : undefined;
    return share ? { ...l, share } : l;
  });
}
