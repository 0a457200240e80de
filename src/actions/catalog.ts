// Built-in actions: the names configs use and the file each writes in a bundle
// (the prototype's names). What each one does lives in ./builtin.ts.
export const BUILTIN_ACTIONS = [
  { name: "dmesg", file: "dmesg.log", what: "kernel log for the lookback period (journalctl -k, or /dev/kmsg)" },
  { name: "journalctl", file: "journalctl.log", what: "systemd journal for the lookback period" },
  { name: "debugdata", file: "debug_data.log", what: "/proc/fs/cifs/DebugData" },
  { name: "stats", file: "cifsstats.log", what: "/proc/fs/cifs/Stats" },
  { name: "mounts", file: "mounts.log", what: "/proc/mounts" },
  { name: "smbinfo", file: "smbinfo.log", what: "smbinfo queries for each cifs mount" },
  { name: "syslogs", file: "syslogs.log", what: "last lines of /var/log/syslog or /var/log/messages" },
] as const;

export type BuiltinActionName = (typeof BUILTIN_ACTIONS)[number]["name"];
export const BUILTIN_ACTION_NAMES: readonly string[] = BUILTIN_ACTIONS.map((a) => a.name);

export function actionFileName(name: string): string {
  return BUILTIN_ACTIONS.find((a) => a.name === name)?.file ?? `${name}.log`;
}
