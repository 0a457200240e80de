// The event tools and protocols, one row each. A new tool is its .bpf.c, its
// spec file in this folder and one row here (docs/extending.md).

import type { ToolName } from "../config/spec";
import type { DecodedEvent, EventLine } from "../format/event";
import type { NameTable } from "../format/name-table";
import { smbProtocol } from "./attach-plan";
import { nfsProtocol } from "./nfs-plan";
import { nfserr } from "./nfserr";
import { nfsslower } from "./nfsslower";
import { smbconn } from "./smbconn";
import { smberr } from "./smberr";
import { smbslower } from "./smbslower";
import type { EventKind, Protocol, ToolSpec } from "./spec";

export const TOOLS: readonly ToolSpec[] = [smbslower, smberr, smbconn, nfsslower, nfserr] as readonly ToolSpec[];
export const PROTOCOLS: readonly Protocol[] = [smbProtocol, nfsProtocol] as readonly Protocol[];

/** Every event kind, by its id (aod_event.tool). */
export const KINDS: readonly EventKind[] = TOOLS.map((t) => t.kind);

/** Every tool name configs and recordings may use: canonical names, then aliases. */
export const TOOL_NAMES: readonly ToolName[] = TOOLS.flatMap((t) => [
  { name: t.name, canonical: t.name },
  ...t.kind.aliases.map((a) => ({ name: a, canonical: t.name })),
]);

/** The tool of a canonical name or an alias. */
export function toolByName(name: string): ToolSpec | undefined {
  const canonical = TOOL_NAMES.find((n) => n.name === name)?.canonical;
  return TOOLS.find((t) => t.name === canonical);
}

function tool(name: string): ToolSpec {
  const t = toolByName(name);
  if (!t) throw new Error(`no tool ${name}`); // config validation names only known tools
  return t;
}

/** The command names of a tool's events (SMB2 commands, ...). */
export const toolCommands = (name: string): NameTable => tool(name).kind.commands;
/** The id its events carry in aod_event.tool. */
export const toolKindId = (name: string): number => tool(name).kind.id;
/** The kind of an event id, or undefined for an unknown id. */
export const kindById = (id: number): EventKind | undefined => KINDS.find((k) => k.id === id);

/** A decoded record as an event line, by its kind (an unknown id reads as the first kind's). */
export const toEventLine = (e: DecodedEvent, share?: string): EventLine =>
  (kindById(e.tool) ?? KINDS[0]!).toLine(e, share);
