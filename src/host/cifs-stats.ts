// /proc/fs/cifs/Stats: the kernel's own count of finished SMB2 commands
// (CONFIG_CIFS_STATS2: "SMB3 CMD / Number / Total Time / Fastest / Slowest",
// counted when each mid is released). Used to check coverage.
import { readFileSync } from "node:fs";
import { SMB2_COMMAND_COUNT } from "../format/smb2-commands";

/** Commands per SMB2 command id, summed over servers; undefined without STATS2. */
export function parseCmdStats(text: string): number[] | undefined {
  const out = new Array<number>(SMB2_COMMAND_COUNT).fill(0);
  let seen = false;
  let inTable = false;
  for (const line of text.split("\n")) {
    if (/SMB3 CMD\s+Number/.test(line)) {
      inTable = true;
      seen = true;
      continue;
    }
    if (!inTable) continue;
    if (/^\s*-+\s/.test(line)) continue;
    const m = /^\s*(\d+)\s+(\d+)\s+\d+/.exec(line);
    if (!m) {
      inTable = false;
      continue;
    }
    const id = Number(m[1]);
    if (id < SMB2_COMMAND_COUNT) out[id]! += Number(m[2]);
  }
  return seen ? out : undefined;
}

export function readCmdStats(path = "/proc/fs/cifs/Stats"): number[] | undefined {
  try {
    return parseCmdStats(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}
