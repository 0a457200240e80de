// Anomaly types a config may name (`type: Latency`, case-insensitive), the tool
// that feeds each and the keys only that type accepts.
export const ANOMALY_TYPES = {
  latency: {
    tool: "smbslower",
    keys: ["default_threshold_ms", "track_commands", "exclude_commands", "max_latency_ms"],
  },
  error: {
    tool: "smbiosnoop",
    keys: ["track_codes", "exclude_codes"],
  },
} as const;

export type AnomalyType = keyof typeof ANOMALY_TYPES;
export const ANOMALY_TYPE_NAMES = Object.keys(ANOMALY_TYPES) as AnomalyType[];
