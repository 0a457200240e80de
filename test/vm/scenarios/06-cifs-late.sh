#!/usr/bin/env bash
# 06-cifs-late: `aod run` starts before cifs is loaded (the scenario unmounts
# /mnt/smb and unloads cifs.ko that setup loaded), waits for the module, and
# attaches when `modprobe cifs` brings it; then a slow server (netem 200 ms)
# makes a latency anomaly (acceptable_count 3 commands >= 300 ms).
# Writes (cwd = $RESULTS): aod-cmd, config.yaml, aod.log, aod.rc, marker,
# cifs-before (unloaded|loaded), modprobe.ns, phase-*.ns, bundles.json,
# bundles/<name>/{show.json,<members>}. vm.test.ts asserts.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}"
NAME=06-cifs-late

# shellcheck source=lib/aod.sh
source "$(dirname "$0")/lib/aod.sh"

rm -rf "$OUT"
cat >"$CONF" <<YAML
# Prototype (AODv2) key style.
watch_interval_sec: 5
aod_output_dir: $OUT

guardian:
  anomalies:
    latency:
      type: "Latency"
      tool: "smbslower"
      mode: "all"
      acceptable_count: 3
      default_threshold_ms: 300
      max_latency_ms: 5000
      cooldown_sec: 120
      actions:
        - dmesg
        - debugdata
        - stats
        - mounts

cleanup:
  cleanup_interval_sec: 60
  max_log_age_days: 2
  max_total_log_size_mb: 50

audit:
  enabled: true
YAML
trap 'tc qdisc del dev lo root 2>/dev/null; true' EXIT

say "unmount $SMB_MNT and unload cifs"
umount "$SMB_MNT" || die "umount $SMB_MNT failed"
# Right after umount the module can still be busy for a moment (cifsd exiting).
for i in $(seq 1 40); do rmmod cifs 2>"$RESULTS/rmmod.err" && break; sleep 0.25; done
[[ -d /sys/module/cifs ]] && die "rmmod cifs failed for 10 s: $(cat "$RESULTS/rmmod.err") ($(lsmod | grep '^cifs ' || true))"
[[ -d /sys/module/cifs ]] && echo loaded >"$RESULTS/cifs-before" || echo unloaded >"$RESULTS/cifs-before"
[[ $(cat "$RESULTS/cifs-before") == unloaded ]] || die "cifs still loaded after rmmod"

LOG=$RESULTS/aod.log
say "starting ${AOD[*]} run without cifs"
start_aod "$LOG"
wait_log "$LOG" '"msg":"ready"' 90 || die "aod run did not get ready without cifs"
grep -q 'attached smbslower via' "$LOG" && die "aod says it attached while cifs was not loaded"
sleep 3
kill -0 "$AOD_PID" || die "aod exited while waiting for cifs"

say "modprobe cifs, mount"
now_ns >"$RESULTS/modprobe.ns"
modprobe cifs || die "modprobe cifs failed"
mount -t cifs "$SMB_SHARE" "$SMB_MNT" -o "$SMB_OPTS" || die "mount failed"
wait_log "$LOG" 'attached smbslower via' 15 || die "aod did not attach within 15 s of modprobe cifs"
now_ns >"$RESULTS/attached.ns"
say "  $(grep -o 'cifs: attached smbslower via [a-z]*' "$LOG")"

marker="aod-vm-marker-06-cifs-late-$RANDOM"
echo "$marker" >"$RESULTS/marker"
echo "$marker" >/dev/kmsg

say "slow server: netem delay 200ms, 3 small files"
mkdir -p "$SMB_MNT/late"
now_ns >"$RESULTS/phase-slow.ns"
tc qdisc add dev lo root netem delay 200ms || die "tc netem failed"
for i in 1 2 3; do echo "late-$i" >"$SMB_MNT/late/f$i"; done
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"latency"' 30 || die "no latency bundle after the late attach"
tc qdisc del dev lo root
sleep 1

stop_aod
say "aod exited $(cat "$RESULTS/aod.rc")"
collect_bundles
rm -rf "$SMB_MNT/late"
grep -E '"msg":"(ready|anomaly detected|bundle written|stopped)"|attached|cifs|"level":"error"' "$LOG" | cut -c1-300
echo "$SECONDS" >"$RESULTS/guest-seconds"
exit 0
