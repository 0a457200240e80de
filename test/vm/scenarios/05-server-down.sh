#!/usr/bin/env bash
# 05-server-down: smbd dies under `aod run` and comes back.
#   down    trackonly [ECONNREFUSED, EHOSTDOWN, ECONNRESET, ETIMEDOUT, EAGAIN, EIO],
#           acceptable_count 1: records the reconnect errors
#   denied  trackonly [EACCES], acceptable_count 3: injected after recovery
# Phase 1: kill smbd (pid file + the connection's process); accesses wait for
#          the reconnect and fail (EHOSTDOWN); `aod snapshot` meanwhile; a
#          `down` bundle is expected from the reconnect errors.
# Phase 2: restart smbd, wait until the mount answers again; aod is alive;
#          `aod snapshot` again; EACCES after recovery -> a `denied` bundle
#          (tracing survived the reconnect).
# Phase 4: smbd frozen with SIGSTOP while a reader blocks on the share and a
#          file is held open: `aod snapshot` -> hung_tasks.log names the reader
#          with a cifs stack, open_files.log the held file. `denied` also runs
#          cifs_verbose (4 s): its log has cifs FYI lines, cifsFYI is restored.
# Writes (cwd = $RESULTS): aod-cmd, config.yaml, aod.log, aod.rc, phase-*.ns,
# marker, alive-after-recovery, snapshot-{outage,recovered}.{stdout,stderr,rc},
# down.stat, recovery.seconds,
# bundles.json, bundles/<name>/{show.json,<members>}. vm.test.ts asserts.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}" "${SMB_SRV_DIR:=/srv/smb/share}"
NAME=05-server-down

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
    - mounts
    - hung_tasks
    - open_files
    - kerberos

guardian:
  anomalies:
    down:
      type: "Error"
      tool: "smbiosnoop"
      mode: "trackonly"
      acceptable_count: 1
      track_codes:
        - ECONNREFUSED
        - EHOSTDOWN
        - ECONNRESET
        - ETIMEDOUT
        - EAGAIN
        - EIO
      cooldown_sec: 300
      actions:
        - dmesg
        - debugdata
        - stats
        - mounts
    denied:
      type: "Error"
      tool: "smbiosnoop"
      mode: "trackonly"
      acceptable_count: 3
      track_codes:
        - EACCES
      cooldown_sec: 300
      actions:
        - dmesg
        - debugdata
        - stats
        - mounts
        - cifs_verbose

cleanup:
  cleanup_interval_sec: 60
  max_log_age_days: 2
  max_total_log_size_mb: 50

audit:
  enabled: true

collection:
  verbose_sec: 4
YAML

trap 'smbd_up || start_smbd' EXIT

mkdir -p "$SMB_MNT/down"
echo secret >"$SMB_MNT/down/secret"
LOG=$RESULTS/aod.log
say "starting ${AOD[*]} run"
start_aod "$LOG"
wait_log "$LOG" '"msg":"ready"' 90 || die "aod run did not get ready"
wait_log "$LOG" 'attached smbslower via.*smbiosnoop via' 5 || die "aod is ready but did not attach smbiosnoop (errors)"

marker="aod-vm-marker-05-server-down-$RANDOM"
echo "$marker" >"$RESULTS/marker"
echo "$marker" >/dev/kmsg

# snapshot LABEL: `aod snapshot`, its path/stdout/stderr/rc as snapshot-LABEL.*
snapshot() {
  "${AOD[@]}" snapshot --config "$CONF" --timeout 60 >"$RESULTS/snapshot-$1.stdout" 2>"$RESULTS/snapshot-$1.stderr"
  echo $? >"$RESULTS/snapshot-$1.rc"
  say "  snapshot $1: rc=$(cat "$RESULTS/snapshot-$1.rc") $(cat "$RESULTS/snapshot-$1.stdout")"
}

say "phase 1: kill smbd ($(smbd_pids | tr '\n' ' ')), use the mount while it is down"
now_ns >"$RESULTS/phase-1.ns"
for p in $(smbd_pids); do kill -KILL "$p" 2>/dev/null; done
sleep 0.5
smbd_up && die "smbd still listening after kill"
# Each access waits for the reconnect, then fails (soft mount: EHOSTDOWN after ~10 s).
spids=()
for i in 1 2 3 4; do
  timeout 30 stat "$SMB_MNT/down/f-$i" >/dev/null 2>>"$RESULTS/down.stat" &
  spids+=($!)
  sleep 1
done
snapshot outage                           # "it is broken right now": DebugData shows the lost connection
wait "${spids[@]}"                        # the stats above (not aod)
say "  client errors: $(sed 's/.*: //' "$RESULTS/down.stat" | sort | uniq -c | tr '\n' ';')"
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"down"' 3 || say "  no \`down\` bundle: aod did not see the reconnect errors"

say "phase 2: restart smbd, wait for the mount to answer"
now_ns >"$RESULTS/phase-2.ns"
start_smbd || die "smbd did not come back"
t0=$SECONDS
ok=0
for i in $(seq 1 60); do
  if timeout 5 ls "$SMB_MNT/down" >/dev/null 2>&1; then ok=1; break; fi
  sleep 1
done
((ok)) || die "the mount did not recover within 60 s after smbd restarted"
echo $((SECONDS - t0)) >"$RESULTS/recovery.seconds"
say "  mount answers again after $(cat "$RESULTS/recovery.seconds") s"
sleep 1
kill -0 "$AOD_PID" 2>/dev/null && echo alive >"$RESULTS/alive-after-recovery" || echo dead >"$RESULTS/alive-after-recovery"
snapshot recovered

say "phase 2: EACCES after recovery"
now_ns >"$RESULTS/phase-3.ns"
cat /proc/fs/cifs/cifsFYI >"$RESULTS/cifsFYI.before"
chmod 000 "$SMB_SRV_DIR/down/secret"
sleep 1.2                                 # attribute cache (actimeo=1)
for i in $(seq 1 6); do cat "$SMB_MNT/down/secret" >/dev/null 2>&1; done
# cifs activity during the cifs_verbose window (verbose_sec 4)
for i in $(seq 1 8); do sleep 0.5; ls "$SMB_MNT/down" >/dev/null 2>&1; done
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"denied"' 30 || die "no \`denied\` bundle after recovery: tracing did not survive the reconnect"
cat /proc/fs/cifs/cifsFYI >"$RESULTS/cifsFYI.after"
sleep 1

say "phase 4: smbd stopped (SIGSTOP) under a blocked reader and an open file -> aod snapshot"
chmod 644 "$SMB_SRV_DIR/down/secret"
echo held >"$SMB_MNT/down/held"
exec 7<"$SMB_MNT/down/held"               # an open file on the share
sleep 1.2
for p in $(smbd_pids); do kill -STOP "$p" 2>/dev/null; done
cat "$SMB_MNT/down/secret" >/dev/null 2>&1 &
reader=$!
echo "$reader" >"$RESULTS/blocked-reader.pid"
sleep 3
snapshot stopped
for p in $(smbd_pids); do kill -CONT "$p" 2>/dev/null; done
wait "$reader"
exec 7<&-

stop_aod
say "aod exited $(cat "$RESULTS/aod.rc")"
collect_bundles
chmod 644 "$SMB_SRV_DIR/down/secret"
rm -rf "$SMB_MNT/down"
grep -E '"msg":"(anomaly detected|bundle written|stopped)"|"level":"error"' "$LOG" | cut -c1-300
echo "$SECONDS" >"$RESULTS/guest-seconds"
exit 0
