// What each protocol's metrics are called: one row per protocol of
// src/tools/registry.ts PROTOCOLS. SMB has commands, NFS has RPC procedures
// (named with their version, v3:WRITE, as in configs).

export interface ProtocolMetrics {
  /** The label naming the request: `command` (SMB2_WRITE) or `procedure` (v3:WRITE). */
  request: string;
  /** Latency histogram family. */
  duration: string;
  durationHelp: string;
  /** Error counter family (without _total). */
  errors: string;
  errorsHelp: string;
  /** Connection event counter family (without _total), for a protocol with connection events. */
  connections?: string;
  connectionsHelp?: string;
}

const SUM_NOTE =
  "Buckets are exact sums of the kernel's log2 microsecond buckets; _sum (text format 0.0.4 only) is estimated from the bucket midpoints.";

export const PROTOCOL_METRICS: Record<string, ProtocolMetrics> = {
  smb: {
    request: "command",
    duration: "aod_smb_command_duration_seconds",
    durationHelp: `Latency of completed SMB2 commands by command and share, since aod attached. ${SUM_NOTE}`,
    errors: "aod_smb_command_errors",
    errorsHelp: "Failed SMB2 commands aod reported, by command, errno and NT status (empty when the server sent none).",
    connections: "aod_smb_connection_events",
    connectionsHelp: "SMB connection events aod reported (reconnect, connect_failed, ...), by kind and server.",
  },
  nfs: {
    request: "procedure",
    duration: "aod_nfs_rpc_duration_seconds",
    durationHelp: `Latency of completed NFS RPCs by procedure (v3:WRITE) and export, since aod attached. ${SUM_NOTE}`,
    errors: "aod_nfs_rpc_errors",
    errorsHelp: "Failed NFS requests aod reported, by procedure or v4 operation, errno and NFS status.",
  },
};
