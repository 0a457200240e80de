// The built-in actions, one row each. A new action is its own file in this
// folder (an ActionSpec, ../spec.ts) and one row in BUILTIN_ACTIONS; config
// validation, the action runner, bundle file names and `aod check` read them
// from here. Custom actions (no code) come from the config's custom_actions.
import type { ActionBinary, ActionSpec } from "../spec";
import { cifs_verbose } from "./cifs_verbose";
import { debugdata } from "./debugdata";
import { dmesg } from "./dmesg";
import { hung_tasks } from "./hung_tasks";
import { journalctl } from "./journalctl";
import { kerberos } from "./kerberos";
import { mounts } from "./mounts";
import { nfs_mounts } from "./nfs_mounts";
import { nfs_mountstats } from "./nfs_mountstats";
import { nfs_verbose } from "./nfs_verbose";
import { nfsstat } from "./nfsstat";
import { open_files } from "./open_files";
import { smbinfo } from "./smbinfo";
import { stats } from "./stats";
import { syslogs } from "./syslogs";

export const BUILTIN_ACTIONS: readonly ActionSpec[] = [
  dmesg,
  journalctl,
  debugdata,
  stats,
  mounts,
  smbinfo,
  syslogs,
  hung_tasks,
  open_files,
  kerberos,
  cifs_verbose,
  nfs_mounts,
  nfs_mountstats,
  nfsstat,
  nfs_verbose,
];

export const BUILTIN_ACTION_NAMES: readonly string[] = BUILTIN_ACTIONS.map((a) => a.name);

/** The spec of a built-in action; undefined for a custom one. */
export const builtinAction = (name: string): ActionSpec | undefined => BUILTIN_ACTIONS.find((a) => a.name === name);

/** The file an action writes in a bundle: a built-in's own name, else <name>.log. */
export function actionFileName(name: string): string {
  return builtinAction(name)?.file ?? `${name}.log`;
}

/** The outside binaries the built-ins use, each once (the first spec's reason), in table order. */
export function actionBinaries(): ActionBinary[] {
  const seen = new Map<string, ActionBinary>();
  for (const a of BUILTIN_ACTIONS) for (const b of a.binaries ?? []) if (!seen.has(b.name)) seen.set(b.name, b);
  return [...seen.values()];
}
