// SMB2 command codes (MS-SMB2 2.2.1): the index is the protocol's command id,
// the same number the kernel's cifs tracepoints report in `cmd`.
import { type NameTable, nameTable } from "./name-table";

export const SMB2_COMMANDS = [
  "SMB2_NEGOTIATE",
  "SMB2_SESSION_SETUP",
  "SMB2_LOGOFF",
  "SMB2_TREE_CONNECT",
  "SMB2_TREE_DISCONNECT",
  "SMB2_CREATE",
  "SMB2_CLOSE",
  "SMB2_FLUSH",
  "SMB2_READ",
  "SMB2_WRITE",
  "SMB2_LOCK",
  "SMB2_IOCTL",
  "SMB2_CANCEL",
  "SMB2_ECHO",
  "SMB2_QUERY_DIRECTORY",
  "SMB2_CHANGE_NOTIFY",
  "SMB2_QUERY_INFO",
  "SMB2_SET_INFO",
  "SMB2_OPLOCK_BREAK",
  "SMB2_SERVER_TO_CLIENT_NOTIFICATION",
] as const;

export type Smb2Command = (typeof SMB2_COMMANDS)[number];
export const SMB2_COMMAND_COUNT = SMB2_COMMANDS.length;

/** SMB2 commands as a name table (configs, event lines, histograms). */
export const SMB2_COMMAND_TABLE: NameTable = nameTable(
  "SMB2 command",
  SMB2_COMMANDS,
  "SMB2_READ",
  (id) => `SMB2_0x${id.toString(16)}`,
);

const ids = new Map<string, number>(SMB2_COMMANDS.map((n, i) => [n, i]));

export function smb2CommandId(name: string): number | undefined {
  return ids.get(name);
}

/** Name for a command id; ids outside the table are printed as `SMB2_0x..`. */
export function smb2CommandName(id: number): string {
  return SMB2_COMMANDS[id] ?? `SMB2_0x${id.toString(16)}`;
}
