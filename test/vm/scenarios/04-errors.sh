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
