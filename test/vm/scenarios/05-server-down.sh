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
# Writes (cwd = $RESULTS): aod-cmd, config.yaml, aod.log, aod.rc, phase-*.ns,
# marker, alive-after-recovery, snapshot-{outage,recovered}.{stdout,stderr,rc},
# down.stat, recovery.seconds,
# bundles.json, bundles/<name>/{show.json,<members>}. vm.test.ts asserts.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}" "${SMB_SRV_DIR:=/srv/smb/share}"
NAME=05-server-down

# --- aod helpers (same block in 03..07) ----------------------------------------
# The results dir may hold a previous run's files (run.sh keeps $VM_RESULTS): start empty.
find "$RESULTS" -mindepth 1 -maxdepth 1 ! -name .vm -exec rm -rf {} +
BUN=$PROJECT/node_modules/.bin/bun
# The built binary when it is newer than every source and BPF object, else the
# sources themselves (the same code, run by the project's bun).
if [[ -x $PROJECT/dist/aod && -z $(find "$PROJECT/src" "$PROJECT/build/bpf" "$PROJECT/config" -type f -newer "$PROJECT/dist/aod" 2>/dev/null | head -1) ]]; then
  AOD=("$PROJECT/dist/aod")
else
  AOD=("$BUN" "$PROJECT/src/main.ts")
fi
echo "${AOD[*]}" >"$RESULTS/aod-cmd"
export AOD_LOG_LEVEL=info
OUT=/var/lib/aod-vm                      # aod_output_dir (guest-local; bundles copied to $RESULTS)
CONF=$RESULTS/config.yaml
AOD_PID=""
say() { echo "$NAME: [${SECONDS}s] $*"; }
die() { say "FAILED: $*"; [[ -n $AOD_PID ]] && kill -TERM "$AOD_PID" 2>/dev/null; tc qdisc del dev lo root 2>/dev/null; exit 1; }
# start_aod LOG: aod run --config $CONF in the background, stderr to LOG
start_aod() {
  "${AOD[@]}" run --config "$CONF" >"$RESULTS/aod.stdout" 2>"$1" &
  AOD_PID=$!
}
# wait_log LOG REGEX SECONDS [COUNT]: until REGEX matches COUNT lines of LOG
wait_log() {
  local n=${4:-1} end=$((SECONDS + $3))
  while ((SECONDS < end)); do
    (($(grep -Ec "$2" "$1" 2>/dev/null) >= n)) && return 0
    kill -0 "$AOD_PID" 2>/dev/null || { say "aod (pid $AOD_PID) exited while waiting for /$2/"; tail -n 20 "$1"; return 1; }
    sleep 0.25
  done
  (($(grep -Ec "$2" "$1" 2>/dev/null) >= n)) && return 0
  say "timed out after $3 s waiting for /$2/ (x$n) in $1"; tail -n 20 "$1"; return 1
}
# stop_aod: SIGTERM, wait, exit code to aod.rc
stop_aod() {
  kill -TERM "$AOD_PID" 2>/dev/null
  local rc=0
  wait "$AOD_PID" || rc=$?
  echo "$rc" >"$RESULTS/aod.rc"
  AOD_PID=""
}
# collect_bundles: bundles.json (aod bundles --json), per bundle the unpacked
# members and their list (members, from tar), show.json (aod bundles show
# --json) for the newest one only (each aod start costs seconds under TCG)
collect_bundles() {
  local f b newest=""
  "${AOD[@]}" bundles --config "$CONF" --json >"$RESULTS/bundles.json" 2>"$RESULTS/bundles.stderr" || say "aod bundles failed: $(cat "$RESULTS/bundles.stderr")"
  mkdir -p "$RESULTS/bundles"
  for f in "$OUT"/batches/aod_quick_*.tar.zst; do
    [[ -e $f ]] || continue
    b=$RESULTS/bundles/$(basename "$f" .tar.zst)
    mkdir -p "$b"
    zstd -dcq "$f" | tar -t >"$b/members" || say "cannot list $f"
    zstd -dcq "$f" | tar -x -C "$b" || say "cannot unpack $f"
    newest=$f
  done
  [[ -n $newest ]] && "${AOD[@]}" bundles show "$newest" --config "$CONF" --json >"$RESULTS/bundles/$(basename "$newest" .tar.zst)/show.json" 2>"$RESULTS/bundles/show.stderr"
  say "bundles: $(ls "$RESULTS/bundles" | grep -c aod_quick_)"
}
now_ns() { date +%s%N; }
# --------------------------------------------------------------------------------

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

cleanup:
  cleanup_interval_sec: 60
  max_log_age_days: 2
  max_total_log_size_mb: 50

audit:
  enabled: true
YAML

smbd_pids() { # the daemon (pid file) and every process holding a :445 socket
  { cat /run/samba/smbd.pid 2>/dev/null; ss -Htnlp 'sport = :445' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2
    ss -Htnp 'sport = :445' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2; } | sort -u
}
smbd_up() { ss -Hltn 'sport = :445' 2>/dev/null | grep -q .; }
start_smbd() {
  smbd -D
  local i
  for i in $(seq 1 100); do smbd_up && return 0; sleep 0.1; done
  return 1
}
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
chmod 000 "$SMB_SRV_DIR/down/secret"
sleep 1.2                                 # attribute cache (actimeo=1)
for i in $(seq 1 6); do cat "$SMB_MNT/down/secret" >/dev/null 2>&1; done
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"denied"' 30 || die "no \`denied\` bundle after recovery: tracing did not survive the reconnect"
sleep 1

stop_aod
say "aod exited $(cat "$RESULTS/aod.rc")"
collect_bundles
chmod 644 "$SMB_SRV_DIR/down/secret"
rm -rf "$SMB_MNT/down"
grep -E '"msg":"(anomaly detected|bundle written|stopped)"|"level":"error"' "$LOG" | cut -c1-300
echo "$SECONDS" >"$RESULTS/guest-seconds"
exit 0
