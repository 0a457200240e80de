#!/usr/bin/env bash
# 03-slow: a slow server (netem delay on lo) under `aod run` with a
# prototype-style config holding two latency anomalies:
#   latency  counting rule: acceptable_count 5 commands >= 300 ms within the
#            window; max_latency_ms 8000 (never reached here)
#   stall    hard limit: max_latency_ms 2500; acceptable_count 1000 (never
#            reached here)
# Phase A: netem 200 ms (every command >= 400 ms, none near 2500 ms) with
#          enough commands for several detections -> exactly one `latency`
#          bundle (cooldown), no `stall` bundle.
# Phase B: netem 1500 ms (>= 3000 ms per command) for a single file access ->
#          one `stall` bundle (hard limit); `latency` is still cooling down.
# Writes (cwd = $RESULTS): aod-cmd, config.yaml, aod.log, aod.rc, phase-*.ns,
# bundles.json, bundles/<name>/{show.json,<members>}, marker. vm.test.ts asserts.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}"
NAME=03-slow

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
# Prototype (AODv2) key style; two latency anomalies, see the script header.
watch_interval_sec: 5
aod_output_dir: $OUT

watcher:
  actions:
    - dmesg
    - debugdata
    - stats

guardian:
  anomalies:
    latency:
      type: "Latency"
      tool: "smbslower"
      mode: "all"
      acceptable_count: 5
      default_threshold_ms: 300
      track_commands:
        - command: SMB2_WRITE
          threshold: 300
      max_latency_ms: 8000
      cooldown_sec: 120
      actions:
        - dmesg
        - journalctl
        - debugdata
        - stats
        - mounts
        - smbinfo
        - syslogs
    stall:
      type: "Latency"
      tool: "smbslower"
      mode: "all"
      acceptable_count: 1000
      default_threshold_ms: 2500
      max_latency_ms: 2500
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

mkdir -p "$SMB_MNT/slow"
LOG=$RESULTS/aod.log
say "starting ${AOD[*]} run"
start_aod "$LOG"
wait_log "$LOG" '"msg":"ready"' 90 || die "aod run did not get ready"
wait_log "$LOG" 'attached smbslower via' 5 || die "aod is ready but did not attach the SMB tools"

marker="aod-vm-marker-03-slow-$RANDOM"
echo "$marker" >"$RESULTS/marker"
echo "$marker" >/dev/kmsg

say "phase A: netem delay 200ms, 5 small files (>= 3 commands each)"
now_ns >"$RESULTS/phase-a.ns"
tc qdisc add dev lo root netem delay 200ms || die "tc netem failed"
t0=$(date +%s.%N)
for i in $(seq 1 5); do
  echo "slow-$i" >"$SMB_MNT/slow/f$i"
done
say "  phase A workload took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"latency"' 30 || die "no latency bundle after phase A"

say "phase B: netem delay 1500ms, one stat"
now_ns >"$RESULTS/phase-b.ns"
tc qdisc change dev lo root netem delay 1500ms || die "tc netem change failed"
sleep 1.2                                 # attribute cache (actimeo=1) expires: stat goes to the server
t0=$(date +%s.%N)
stat "$SMB_MNT/slow/f1" >/dev/null
say "  phase B workload took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"stall"' 30 || die "no stall bundle after phase B"
tc qdisc del dev lo root
now_ns >"$RESULTS/phase-end.ns"
sleep 1                                   # late events of phase B reach the detectors

stop_aod
say "aod exited $(cat "$RESULTS/aod.rc")"
collect_bundles
rm -rf "$SMB_MNT/slow"
grep -E '"msg":"(anomaly detected|bundle written|stopped)"' "$LOG" | cut -c1-300
echo "$SECONDS" >"$RESULTS/guest-seconds"
exit 0
