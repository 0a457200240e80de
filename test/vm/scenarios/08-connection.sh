#!/usr/bin/env bash
# 08-connection: connection anomalies (smbconn) and Error rules by NT status
# and command, under `aod run`.
#   conn            type Connection, defaults (2nd event within 60 s; session
#                   expiry alone), cooldown 600 s, actions debugdata, dmesg, mounts
#   denied          Error, track_status [STATUS_ACCESS_DENIED],
#                   track_commands [SMB2_CREATE], acceptable_count 3
#   notfound_write  Error, track_status [STATUS_OBJECT_NAME_NOT_FOUND],
#                   track_commands [SMB2_WRITE], acceptable_count 1: must stay
#                   silent (lookups of missing files fail on SMB2_CREATE)
# Phase 1 (flap): a reader uses the share; smbd is killed for 4 s and
#          restarted, twice -> one `conn` bundle for the cooldown.
# Phase 2 (status rules): reads of chmod-000 files -> `denied`; stats of
#          missing files -> nothing.
# Phase 3 (netem): aod restarted; a second mount with echo_interval=2 (the
#          default 60 s makes the client wait minutes); 100% loss on lo for
#          15 s while a reader uses it -> a `conn` bundle.
# Writes (cwd = $RESULTS): config.yaml, aod.log/aod.rc (phases 1-2),
# aod-netem.log/aod-netem.rc (phase 3), phase-*.ns, recovery-*.seconds,
# bundles.json, bundles/<name>/... vm.test.ts asserts.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}" "${SMB_SRV_DIR:=/srv/smb/share}"
NAME=08-connection

# shellcheck source=lib/aod.sh
source "$(dirname "$0")/lib/aod.sh"

rm -rf "$OUT"
cat >"$CONF" <<YAML
watch_interval_sec: 5
aod_output_dir: $OUT
guardian:
  anomalies:
    conn:
      type: Connection
      cooldown_sec: 600
      actions: [debugdata, dmesg, mounts]
    denied:
      type: Error
      track_status: [STATUS_ACCESS_DENIED]
      track_commands: [SMB2_CREATE]
      acceptable_count: 3
      cooldown_sec: 600
      actions: [mounts]
    notfound_write:
      type: Error
      track_status: [STATUS_OBJECT_NAME_NOT_FOUND]
      track_commands: [SMB2_WRITE]
      acceptable_count: 1
      actions: []
YAML

MNT2=/mnt/smb-echo2
trap 'tc qdisc del dev lo root 2>/dev/null; smbd_up || start_smbd; umount -l "$MNT2" 2>/dev/null' EXIT

# recovered MOUNT LABEL: wait until MOUNT answers, seconds to recovery-LABEL.seconds
recovered() {
  local t0=$SECONDS i
  for i in $(seq 1 90); do
    if timeout 5 ls "$1/conn" >/dev/null 2>&1; then
      echo $((SECONDS - t0)) >"$RESULTS/recovery-$2.seconds"
      say "  $1 answers again after $((SECONDS - t0)) s"
      return 0
    fi
    sleep 1
  done
  return 1
}
# reader MOUNT: reads a file on MOUNT every 0.2 s until killed (its errors are expected)
reader() {
  while :; do
    timeout 20 cat "$1/conn/data" >/dev/null 2>&1
    sleep 0.2
  done
}

mkdir -p "$SMB_MNT/conn"
echo data >"$SMB_MNT/conn/data"
for i in 1 2 3; do echo secret >"$SMB_MNT/conn/secret-$i"; done

LOG=$RESULTS/aod.log
say "starting ${AOD[*]} run"
start_aod "$LOG"
wait_log "$LOG" '"msg":"ready"' 90 || die "aod run did not get ready"
wait_log "$LOG" 'attached .*smbconn via' 5 || die "aod is ready but did not attach smbconn"

say "phase 1: smbd down 4 s and back, twice, under a reader"
now_ns >"$RESULTS/phase-1.ns"
reader "$SMB_MNT" &
rpid=$!
for round in 1 2; do
  for p in $(smbd_pids); do kill -KILL "$p" 2>/dev/null; done
  sleep 4
  start_smbd || die "smbd did not come back"
  recovered "$SMB_MNT" "flap-$round" || die "the mount did not recover within 90 s (round $round)"
  sleep 2
done
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"conn"' 30 || die "no \`conn\` bundle after two smbd restarts"
kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null

say "phase 2: STATUS_ACCESS_DENIED on SMB2_CREATE; missing files (not SMB2_WRITE)"
now_ns >"$RESULTS/phase-2.ns"
chmod 000 "$SMB_SRV_DIR"/conn/secret-*
sleep 1.2                                 # attribute cache (actimeo=1)
for i in 1 2 3; do for f in "$SMB_MNT"/conn/secret-*; do cat "$f" >/dev/null 2>&1; done; done
for i in $(seq 1 6); do stat "$SMB_MNT/conn/missing-$i" >/dev/null 2>&1; done
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"denied"' 30 || die "no \`denied\` bundle"
sleep 6                                   # a window for notfound_write, which must stay silent
stop_aod
say "aod exited $(cat "$RESULTS/aod.rc")"
mv "$RESULTS/aod.rc" "$RESULTS/aod-first.rc"   # stop_aod writes aod.rc again for the netem run
chmod 644 "$SMB_SRV_DIR"/conn/secret-*

say "phase 3: 100% loss on lo for 15 s, mount with echo_interval=2"
mkdir -p "$MNT2"
mount -t cifs "$SMB_SHARE" "$MNT2" -o "$SMB_OPTS,echo_interval=2" || die "mount with echo_interval=2 failed"
LOG2=$RESULTS/aod-netem.log
start_aod "$LOG2"
wait_log "$LOG2" '"msg":"ready"' 90 || die "aod run (netem) did not get ready"
wait_log "$LOG2" 'attached .*smbconn via' 5 || die "aod (netem) did not attach smbconn"
reader "$MNT2" &
rpid=$!
sleep 1
now_ns >"$RESULTS/phase-3.ns"
tc qdisc add dev lo root netem loss 100% || die "tc netem loss failed"
sleep 15
tc qdisc del dev lo root
recovered "$MNT2" netem || die "the echo_interval=2 mount did not recover within 90 s after the loss ended"
wait_log "$LOG2" '"msg":"bundle written".*"anomaly":"conn"' 30 || say "  no \`conn\` bundle for the packet loss"
kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null
stop_aod
mv "$RESULTS/aod.rc" "$RESULTS/aod-netem.rc"
mv "$RESULTS/aod-first.rc" "$RESULTS/aod.rc"
say "aod (netem) exited $(cat "$RESULTS/aod-netem.rc")"
umount "$MNT2"

collect_bundles
rm -rf "$SMB_MNT/conn"
grep -hE '"msg":"(attached|anomaly detected|bundle written|stopped)"|"level":"error"' "$LOG" "$LOG2" | cut -c1-300
echo "$SECONDS" >"$RESULTS/guest-seconds"
exit 0
