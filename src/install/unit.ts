// The systemd unit aod installs: restarted on failure (with a start limit),
// killed gently, first to go under memory pressure, and confined to what BPF
// tracing and evidence collection need.
import { dirname } from "node:path";
import type { Config } from "../config/validate";
import { parseListen } from "../metrics/listen";

export const UNIT_PATH = "/etc/systemd/system/aod.service";
export const BIN_PATH = "/usr/local/bin/aod";
export const CONFIG_PATH = "/etc/aod/config.yaml";

// Capabilities, each for a reason:
//   CAP_BPF, CAP_PERFMON  load BPF programs and attach tracepoints/kprobes (5.8+)
//   CAP_SYS_ADMIN         the same on kernels before 5.8, and mounting tracefs
//   CAP_SYS_RESOURCE      raise RLIMIT_MEMLOCK for BPF maps on kernels before 5.11
//   CAP_SYSLOG            read the kernel log (/dev/kmsg, journalctl -k)
//   CAP_DAC_READ_SEARCH   read /proc/fs/cifs, the journal and syslog files
//   CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN  own and fix the output directory
//   CAP_KILL              stop a timed-out action's process
const CAPABILITIES = [
  "CAP_BPF",
  "CAP_PERFMON",
  "CAP_SYS_ADMIN",
  "CAP_SYS_RESOURCE",
  "CAP_SYSLOG",
  "CAP_DAC_READ_SEARCH",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_CHOWN",
  "CAP_KILL",
];

/** The unit's first line: who installed it and what removes it. */
const HEADER = {
  install: "# Installed by `aod install`; `aod uninstall` removes it.",
  package: "# Installed by the aod package (deb or rpm); removing the package removes it.",
};

/** The directory the service keeps writable without a ReadWritePaths line (RuntimeDirectory). */
const RUNTIME_DIR = "/run/aod";

/**
 * What `metrics:` needs of the sandbox: the listen address let in (its address
 * family, and IPAddressAllow past IPAddressDeny=any) and the directories of the
 * unix socket and the textfile writable under ProtectSystem=strict. Empty
 * strings without metrics, so that the unit is unchanged.
 */
function metricsSandbox(config: Config): { paths: string; ip: string; families: string } {
  const m = config.metrics;
  const out = { paths: "", ip: "", families: "" };
  if (!m) return out;
  const dirs: string[] = [];
  const r = m.listen === undefined ? undefined : parseListen(m.listen);
  const l = r && "listen" in r ? r.listen : undefined;
  if (l?.kind === "unix" && dirname(l.path) !== RUNTIME_DIR) dirs.push(dirname(l.path));
  if (m.textfile) dirs.push(dirname(m.textfile.path));
  if (dirs.length)
    out.paths = `# metrics: the unix socket's and the textfile's directories.\nReadWritePaths=${dirs.map((d) => `-${d}`).join(" ")}\n`;
  if (l?.kind === "tcp") {
    out.families = ` ${l.families.join(" ")}`;
    out.ip = l.loopback
      ? `# metrics.listen (${m.listen}): scrapers on this host.\nIPAddressAllow=localhost\n`
      : `# metrics.listen (${m.listen}) is not loopback: scrapers may come from anywhere. To narrow it,
# systemctl edit aod: IPAddressAllow= (empty: reset) then IPAddressAllow=<your Prometheus>.
IPAddressAllow=any\n`;
  }
  return out;
}

/**
 * What `upload:` adds: outgoing connections to the storage service, a proxy
 * or the instance metadata service, wherever they are (IPv4 and IPv6), and a
 * state_dir other than the StateDirectory. Without upload, nothing.
 */
function uploadSandbox(
  config: Config,
  net: { paths: string; ip: string; families: string },
): { paths: string; ip: string; families: string } {
  if (!config.upload) return net;
  const families = new Set(net.families.split(" ").filter(Boolean));
  families.add("AF_INET");
  families.add("AF_INET6");
  const stateDir =
    config.state_dir === "/var/lib/aod"
      ? ""
      : `# state_dir: upload.db and the host id's salt.\nReadWritePaths=${config.state_dir}\n`;
  return {
    paths: `${net.paths}${stateDir}`,
    ip: `# upload (${config.upload.target}): the storage endpoint, HTTPS_PROXY and the instance metadata
# service (169.254.169.254) may be anywhere. A proxy goes in a drop-in: systemctl edit aod,
# [Service] Environment=HTTPS_PROXY=http://proxy:3128 NO_PROXY=169.254.169.254
IPAddressAllow=any\n`,
    families: ` ${[...families].join(" ")}`,
  };
}

/**
 * The unit for a config. `aod install` writes it with its own paths; the
 * packages (scripts/package) ship it, from `aod _unit --packaged`, with the
 * binary at /usr/bin/aod.
 */
export function unitText(
  config: Config,
  configPath = CONFIG_PATH,
  binPath = BIN_PATH,
  installedBy: keyof typeof HEADER = "install",
): string {
  const stopSec = Math.ceil(config.collection.stop_grace_sec + 15);
  const metrics = uploadSandbox(config, metricsSandbox(config));
  return `${HEADER[installedBy]}
[Unit]
Description=aod - always-on diagnostics for SMB/CIFS clients
Documentation=man:aod(8)
After=local-fs.target
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
Type=simple
ExecStart=${binPath} run --config ${configPath}
# systemctl reload aod: re-read the config (an invalid one is logged and the running one stays).
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
# SIGTERM to aod, which finishes running collections within stop_grace_sec;
# SIGKILL to what is left (action subprocesses) only after TimeoutStopSec.
KillMode=mixed
TimeoutStopSec=${stopSec}
# Under memory pressure the agent goes before the workload it watches.
OOMScoreAdjust=500
Nice=5
Environment=AOD_LOG_LEVEL=info
RuntimeDirectory=aod
RuntimeDirectoryMode=0755
# /var/lib/aod: state that must survive a crash (cifs_verbose's and nfs_verbose's saved settings,
# upload.db: what was uploaded, and the salt of the host id in object keys).
StateDirectory=aod
StateDirectoryMode=0700

# Hardening that still lets BPF work.
ProtectSystem=strict
ReadWritePaths=${config.aod_output_dir}
# ProtectKernelTunables makes /sys, /proc/fs and /proc/sys read-only; these stay
# writable: tracefs instances/ (the flight recorder's own instance), debugfs
# dynamic_debug/ and /proc/fs/cifs (cifsFYI) for the cifs_verbose window, and
# /proc/sys/sunrpc (nfs_debug, rpc_debug) for nfs_verbose's. Not /sys/kernel/tracing
# or /sys/kernel/debug themselves: ProtectKernelTunables lists those very paths
# read-only and wins over ReadWritePaths of the same path (the VM test 10-service
# saw EROFS). "-": absent is fine. A module loaded after the service started
# (cifs, sunrpc) has its knobs read-only until the service restarts.
ReadWritePaths=-/sys/kernel/tracing/instances -/sys/kernel/debug/dynamic_debug -/proc/fs/cifs -/proc/sys/sunrpc
${metrics.paths}ProtectHome=read-only
PrivateTmp=yes
NoNewPrivileges=yes
UMask=0077
ProtectClock=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
IPAddressDeny=any
${metrics.ip}RemoveIPC=yes
ProtectHostname=yes
ProtectKernelModules=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
# AF_UNIX: syslog; AF_NETLINK: libbpf's feature probes and custom actions such as ss${metrics.families ? `; AF_INET/AF_INET6: ${[config.metrics && "metrics.listen", config.upload && "upload"].filter(Boolean).join(", ")}` : ""}.
RestrictAddressFamilies=AF_UNIX AF_NETLINK${metrics.families}
SystemCallArchitectures=native
# Not @debug (perf_event_open attaches tracepoints) nor @mount (tracefs).
SystemCallFilter=~@clock @cpu-emulation @module @obsolete @raw-io @reboot @swap
SystemCallErrorNumber=EPERM
CapabilityBoundingSet=${CAPABILITIES.join(" ")}
AmbientCapabilities=

[Install]
WantedBy=multi-user.target
`;
}
