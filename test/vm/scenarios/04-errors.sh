#!/usr/bin/env bash
# 04-errors: failed SMB commands under `aod run` with two error anomalies,
# each tracking one errno (prototype-style keys; `smberr` alias for one):
#   denied  trackonly [EACCES], acceptable_count 3
#   full    trackonly [ENOSPC], acceptable_count 2
# Phase 1 (noise): stat of missing files (ENOENT, tracked by no one) -> nothing.
# Phase 2 (ENOSPC): the share's tmpfs remounted at 2 MiB, 4 MiB writes fail ->
#          one `full` bundle; `denied` (EACCES only) must not fire.
# Phase 3 (EACCES): `chmod 000` on a server file, the client (user aodtest)
#          reads it -> one `denied` bundle.
# Writes (cwd = $RESULTS): aod-cmd, config.yaml, aod.log, aod.rc, phase-*.ns,
# marker, bundles.json, bundles/<name>/{show.json,<members>}. vm.test.ts asserts.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}" "${SMB_SRV_ROOT:=/srv/smb}" "${SMB_SRV_DIR:=/srv/smb/share}"
NAME=04-errors

# shellcheck source=lib/aod.sh
source "$(dirname "$0")/lib/aod.sh"

rm -rf "$OUT"
cat >"$CONF" <<YAML
# Prototype (AODv2) key style; see the script header.
watch_interval_sec: 5
aod_output_dir: $OUT

watcher:
  actions:
    - dmesg
    - debugdata
    - stats

guardian:
  anomalies:
    denied:
      type: "Error"
      tool: "smbiosnoop"
      mode: "trackonly"
      acceptable_count: 3
      track_codes:
        - EACCES
      cooldown_sec: 120
      actions:
        - dmesg
        - journalctl
        - debugdata
        - stats
        - mounts
    full:
      type: "error"
      tool: "smberr"
      mode: "trackonly"
      acceptable_count: 2
      track_codes:
        - ENOSPC
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

restore() { mount -o remount,size=256m "$SMB_SRV_ROOT" 2>/dev/null; rm -f "$SMB_SRV_DIR"/secret "$SMB_SRV_DIR"/big* 2>/dev/null; }
trap restore EXIT

mkdir -p "$SMB_MNT/err"
LOG=$RESULTS/aod.log
say "starting ${AOD[*]} run"
start_aod "$LOG"
wait_log "$LOG" '"msg":"ready"' 90 || die "aod run did not get ready"
wait_log "$LOG" 'attached smbslower via.*smbiosnoop via' 5 || die "aod is ready but did not attach smbiosnoop (errors)"

marker="aod-vm-marker-04-errors-$RANDOM"
echo "$marker" >"$RESULTS/marker"
echo "$marker" >/dev/kmsg

say "phase 1: ENOENT noise (20 stats of missing files)"
now_ns >"$RESULTS/phase-1.ns"
for i in $(seq 1 20); do stat "$SMB_MNT/err/missing-$i" >/dev/null 2>&1; done
sleep 2

say "phase 2: ENOSPC (share tmpfs at 2 MiB, 4 MiB writes)"
now_ns >"$RESULTS/phase-2.ns"
mount -o remount,size=2m "$SMB_SRV_ROOT" || die "cannot remount $SMB_SRV_ROOT at 2 MiB"
n=0
for i in 1 2 3 4; do
  dd if=/dev/zero of="$SMB_MNT/err/big$i" bs=1M count=4 conv=fsync status=none 2>>"$RESULTS/enospc.dd" || n=$((n + 1))
  rm -f "$SMB_MNT/err/big$i"
done
echo "$n" >"$RESULTS/enospc.failed-dd"
say "  $n of 4 dd runs failed: $(sort -u "$RESULTS/enospc.dd" | head -2 | tr '\n' ' ')"
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"full"' 30 || die "no \`full\` (ENOSPC) bundle after phase 2"
mount -o remount,size=256m "$SMB_SRV_ROOT"

say "phase 3: EACCES (chmod 000 on the server side, 6 reads)"
sleep 1
now_ns >"$RESULTS/phase-3.ns"
echo secret >"$SMB_MNT/err/secret"
chmod 000 "$SMB_SRV_DIR/err/secret"
sleep 1.2                                 # attribute cache (actimeo=1)
n=0
for i in $(seq 1 6); do cat "$SMB_MNT/err/secret" >/dev/null 2>>"$RESULTS/eacces.cat" || n=$((n + 1)); done
echo "$n" >"$RESULTS/eacces.failed-cat"
say "  $n of 6 reads failed: $(sort -u "$RESULTS/eacces.cat" | head -1)"
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"denied"' 30 || die "no \`denied\` (EACCES) bundle after phase 3"
now_ns >"$RESULTS/phase-end.ns"
sleep 1

stop_aod
say "aod exited $(cat "$RESULTS/aod.rc")"
collect_bundles
chmod 644 "$SMB_SRV_DIR/err/secret"
rm -rf "$SMB_MNT/err"
grep -E '"msg":"(anomaly detected|bundle written|stopped)"' "$LOG" | cut -c1-300
echo "$SECONDS" >"$RESULTS/guest-seconds"
exit 0
