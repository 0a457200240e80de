#!/usr/bin/env bash
# `make bench-vm`: aod's BPF cost per SMB command on a real cifs client
# (issue 18, goal 4). With kernel.bpf_stats_enabled=1, `aod run` (fentry, metrics
# on for the per-share histogram) and a count-only baseline on the same hooks (countbase.ts) stay
# attached while a workload of >= 5000 SMB commands runs; bpftool's
# run_time_ns/run_cnt per program before and after, and the kernel's own
# command count (/proc/fs/cifs/Stats "SMBs"), go to the results dir for
# bpf-cost-report.ts. Before that, an `aod run` without metrics attaches alone
# and, settled and idle, gives its RSS (issue 18 goal 1 in the VM).
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}"
NAME=bpf-cost
FILES=${1:-250}                           # ~5000 SMB commands (about 20 per file)

# shellcheck source=../../../test/vm/scenarios/lib/aod.sh
source "$PROJECT/test/vm/scenarios/lib/aod.sh"

rm -rf "$OUT"
cat >"$CONF" <<YAML
watch_interval_sec: 5
aod_output_dir: $OUT
guardian:
  anomalies:
    latency:
      type: Latency
      default_threshold_ms: 10000
      actions: []
    error:
      type: Error
      mode: trackonly
      track_codes: [EIO]
      actions: []
# Metrics on: smbslower then also keeps the per-share latency histogram (the
# goal counts it), on a unix socket nobody scrapes.
metrics:
  listen: /run/aod-bpf-cost-metrics.sock
YAML
smbs() { awk '/^SMBs:/ {s += $2} END {print s + 0}' /proc/fs/cifs/Stats; }

# First, goal 1 in the VM: the idle RSS of `aod run` attached to this real cifs
# mount, no traffic, metrics off (resource goals are measured so), after the
# daemon settled (3 s after the attach).
CONF_BPF=$CONF
CONF=$CONF_BPF.idle
sed '/^# Metrics on/,$d' "$CONF_BPF" >"$CONF"
start_aod "$RESULTS/aod-idle.log"
wait_log "$RESULTS/aod-idle.log" 'attached smbslower via' 90 || die "aod run (idle) did not attach"
sleep 6
awk '/^VmRSS:/ {print $2}' "/proc/$AOD_PID/status" >"$RESULTS/idle-rss-kb"
grep -q 'native ring waiter unavailable' "$RESULTS/aod-idle.log" && echo worker >"$RESULTS/idle-waiter" || echo thread >"$RESULTS/idle-waiter"
stop_aod
say "idle RSS attached, no traffic: $(($(cat "$RESULTS/idle-rss-kb") / 1024)) MiB ($(cat "$RESULTS/idle-waiter") waiter)"
CONF=$CONF_BPF

sysctl -qw kernel.bpf_stats_enabled=1 || die "kernel.bpf_stats_enabled cannot be set"
LOG=$RESULTS/aod.log
start_aod "$LOG"
wait_log "$LOG" '"msg":"ready"' 90 || die "aod run did not get ready"
wait_log "$LOG" 'attached smbslower via fentry' 5 || die "aod did not attach with fentry hooks"
READY_FILE=$RESULTS/baseline.ready "$BUN" "$PROJECT/scripts/bench/vm/countbase.ts" 2>"$RESULTS/baseline.stderr" &
base=$!
for _ in $(seq 1 300); do [[ -s $RESULTS/baseline.ready ]] && break; sleep 0.2; done
[[ -s $RESULTS/baseline.ready ]] || die "baseline did not attach: $(cat "$RESULTS/baseline.stderr")"
say "baseline $(cat "$RESULTS/baseline.ready")"

d=$SMB_MNT/bpfcost
mkdir -p "$d"
smbs >"$RESULTS/smbs-before"
bpftool prog show -j >"$RESULTS/progs-before.json"
t0=$SECONDS
for ((i = 1; i <= FILES; i++)); do echo "$i" >"$d/f$i"; done
for ((i = 1; i <= FILES; i++)); do stat "$d/f$i" >/dev/null; cat "$d/f$i" >/dev/null; done
ls -l "$d" >/dev/null
for ((i = 1; i <= FILES; i++)); do rm "$d/f$i"; done
echo $((SECONDS - t0)) >"$RESULTS/workload.seconds"
bpftool prog show -j >"$RESULTS/progs-after.json"
smbs >"$RESULTS/smbs-after"
rmdir "$d"
say "workload: $(($(cat "$RESULTS/smbs-after") - $(cat "$RESULTS/smbs-before"))) SMB commands in $(cat "$RESULTS/workload.seconds") s"

kill -TERM "$base"; wait "$base"
stop_aod
sysctl -qw kernel.bpf_stats_enabled=0
uname -r >"$RESULTS/kernel"
# The guest's clock: what each bpf_ktime_get_ns costs follows it (under TCG the
# TSC is marked unstable and the guest reads the HPET, an emulated MMIO read).
cs=/sys/devices/system/clocksource/clocksource0
echo "$(cat $cs/current_clocksource) (available: $(cat $cs/available_clocksource))" >"$RESULTS/clocksource"
exit 0
