#!/usr/bin/env bash
# 02-trace: aod's SMB tracing against real cifs.
#  1. coverage-<hooks>.json for each hook variant (fentry, kprobe, tracepoint):
#     test/tools/smb-coverage.ts attaches with every command tracked, runs a
#     workload and compares aod's count with the kernel's (/proc/fs/cifs/Stats).
#  2. `aod trace --min-ms 0 --errors --json --record` during a workload that
#     also fails (EACCES, ENOENT): trace.jsonl, trace.stdout, trace.stderr, trace.rc
#     coverage-reconnect-<hooks>.json: the same across a forced reconnect
#     text.*: the same in text form with --hist --interval 2
#  3. rmmod cifs under `aod trace` with fentry (refused: pinned.*), then with
#     kprobes: unloaded and loaded again, aod detaches and re-attaches (reload.*)
# Argument "layout" (make test's second kernel): phases 1 and 2 only (what
# depends on the kernel's layouts); text output and 3 run on the first kernel.
# Writes debugdata (a /proc/fs/cifs/DebugData sample), plan.json and mode too.
# Runs inside the guest (cwd = $RESULTS); env from /run/vm/env.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}" "${SMB_SRV_DIR:=/srv/smb/share}"
BUN=$PROJECT/node_modules/.bin/bun
# The built binary when it is newer than every source and BPF object, else the
# sources themselves (the same code, run by the project's bun).
if [[ -x $PROJECT/dist/aod && -z $(find "$PROJECT/src" "$PROJECT/build/bpf" -type f -newer "$PROJECT/dist/aod" | head -1) ]]; then
  AOD=("$PROJECT/dist/aod")
else
  AOD=("$BUN" "$PROJECT/src/main.ts")
fi
echo "${AOD[*]}" >"$RESULTS/aod-cmd"
export AOD_LOG_LEVEL=info
MODE=${1:-all}
echo "$MODE" >"$RESULTS/mode"
fail=0

workload() {
  local d=$SMB_MNT/wl-$RANDOM i
  mkdir -p "$d"
  for i in $(seq 1 ${1:-30}); do
    echo "data-$i" >"$d/f$i"
    cat "$d/f$i" >/dev/null
    stat "$d/f$i" >/dev/null
    ls "$d" >/dev/null
    stat "$d/missing-$i" >/dev/null 2>&1 || true   # failed CREATE inside a compound
  done
  dd if=/dev/zero of="$d/big" bs=1M count=1 conv=fsync status=none
  echo 3 >/proc/sys/vm/drop_caches
  cat "$d/big" >/dev/null
  mv "$d/f1" "$d/g1"
  chmod 600 "$d/f2" || true
  rm -rf "$d"
}
# Requests that never get a response: the smbd serving the mount stops, a
# stat hangs on it, then that smbd is killed; cifs reconnects and retries.
# The hung request's mid is freed without a response (dequeue_mid never runs).
reconnect_workload() {
  local parent child
  parent=$(pgrep -o -x smbd)
  child=$(pgrep -P "$parent" -x smbd | head -1)
  [[ -n $child ]] || { echo "no smbd child serving the mount" >&2; return 1; }
  workload 3
  kill -STOP "$child"
  stat "$SMB_MNT/hang-$RANDOM" >/dev/null 2>&1 &
  local st=$!
  sleep 2
  kill -KILL "$child"
  wait $st || true
  sleep 2
  workload 3
}
export -f workload reconnect_workload
export SMB_MNT

# rmmod cifs, retried for up to 10 s: right after umount the module is still
# in use for a moment (the session is torn down asynchronously). Prints rc.
rmmod_cifs() {
  local i
  for i in $(seq 1 20); do
    rmmod cifs 2>"$1" && { echo 0; return; }
    sleep 0.5
  done
  echo 1
}

# Waits until the aod writing log $1 says it attached (up to 60 s).
wait_attached() {
  local i
  for i in $(seq 1 120); do
    grep -q "attached smbslower via" "$1" 2>/dev/null && return 0
    sleep 0.5
  done
  echo "trace: aod did not attach within 60 s"; return 1
}

cp /proc/fs/cifs/DebugData "$RESULTS/debugdata" 2>/dev/null || true
"$BUN" -e 'import { describeAttachPlan } from "/project/src/tools/attach-plan"; console.log(JSON.stringify(describeAttachPlan(), null, 1))' \
  >"$RESULTS/plan.json" 2>"$RESULTS/plan.stderr" || fail=1

echo "trace: coverage per hook variant"
for h in fentry kprobe tracepoint; do
  "$BUN" "$PROJECT/test/tools/smb-coverage.ts" "$h" "workload 15" >"$RESULTS/coverage-$h.json" 2>"$RESULTS/coverage-$h.stderr"
  echo "  $h: rc=$? $(head -c 600 "$RESULTS/coverage-$h.json")"
done

echo "trace: coverage across a reconnect (requests freed without a response)"
for h in fentry kprobe; do
  "$BUN" "$PROJECT/test/tools/smb-coverage.ts" "$h" "reconnect_workload" >"$RESULTS/coverage-reconnect-$h.json" 2>"$RESULTS/coverage-reconnect-$h.stderr"
  echo "  $h: rc=$? $(head -c 900 "$RESULTS/coverage-reconnect-$h.json")"
done

echo "trace: aod trace --min-ms 0 --errors --json"
# EACCES: a file only root may read, on the server side.
echo secret >"$SMB_SRV_DIR/secret" && chmod 000 "$SMB_SRV_DIR/secret" && chown root: "$SMB_SRV_DIR/secret"
"${AOD[@]}" trace --min-ms 0 --errors --json --record "$RESULTS/trace.jsonl" --duration 180 --hist \
  >"$RESULTS/trace.stdout" 2>"$RESULTS/trace.stderr" &
tp=$!
wait_attached "$RESULTS/trace.stderr" || fail=1
workload 10
cat "$SMB_MNT/secret" >/dev/null 2>&1 || true
cat "$SMB_MNT/secret" >/dev/null 2>&1 || true
# ENOSPC: the server's tmpfs shrunk below what dd writes. Write errors are
# decoded in cifsd (async write callbacks): the issuer comes from smbslower.
mount -o remount,size=$(($(du -sm "$SMB_SRV_ROOT" | cut -f1) + 2))m "$SMB_SRV_ROOT"
dd if=/dev/zero of="$SMB_MNT/fill" bs=1M count=16 conv=fsync status=none 2>"$RESULTS/enospc.dd" || true
rm -f "$SMB_MNT/fill"
mount -o remount,size=256m "$SMB_SRV_ROOT"
sleep 1
kill -INT $tp   # Ctrl-C: drain, histograms, summary, exit 0
wait $tp
echo $? >"$RESULTS/trace.rc"
echo "  rc=$(cat "$RESULTS/trace.rc") lines=$(wc -l <"$RESULTS/trace.jsonl")"
tail -n 5 "$RESULTS/trace.stderr"

if [ "$MODE" = layout ]; then
  echo "trace: text output and module reload phases skipped (layout only: the first kernel runs them)"
  exit $fail
fi

echo "trace: text output with --hist --interval 2"
"${AOD[@]}" trace --min-ms 0 --hist --interval 2 --duration 6 >"$RESULTS/text.stdout" 2>"$RESULTS/text.stderr" &
tp=$!
wait_attached "$RESULTS/text.stderr" || fail=1
workload 3
wait $tp
echo $? >"$RESULTS/text.rc"
echo "  rc=$(cat "$RESULTS/text.rc") lines=$(wc -l <"$RESULTS/text.stdout") intervals=$(grep -c -- '--- last 2s ---' "$RESULTS/text.stdout")"

echo "trace: rmmod cifs under aod trace (fentry and tracepoints pin the module)"
"${AOD[@]}" trace --min-ms 0 --errors --json --duration 60 >"$RESULTS/pinned.stdout" 2>"$RESULTS/pinned.stderr" &
tp=$!
wait_attached "$RESULTS/pinned.stderr" || fail=1
umount "$SMB_MNT"
cat /sys/module/cifs/refcnt >"$RESULTS/pinned.refcnt"
rmmod_cifs "$RESULTS/pinned.rmmod.err" >"$RESULTS/pinned.rmmod.rc"
kill -INT $tp; wait $tp; echo $? >"$RESULTS/pinned.rc"
lsmod | grep -q '^cifs ' || modprobe cifs
mount -t cifs "$SMB_SHARE" "$SMB_MNT" -o "$SMB_OPTS"
echo "  rmmod rc=$(cat "$RESULTS/pinned.rmmod.rc") ($(cat "$RESULTS/pinned.rmmod.err"); refcnt with umount pending $(cat "$RESULTS/pinned.refcnt")), SIGINT rc=$(cat "$RESULTS/pinned.rc")"
tail -n 3 "$RESULTS/pinned.stderr"

# kprobes do not pin the module: unload it under aod, which detaches and
# attaches again when it comes back.
echo "trace: cifs unloaded and loaded again under aod trace (kprobe hooks)"
# A config without a Connection anomaly: smbconn's tracepoints would pin cifs
# (the embedded default tracks connection events, and aod trace then shows them).
printf 'guardian:\n  anomalies:\n    latency:\n      type: Latency\n' >"$RESULTS/latency-only.yaml"
AOD_SMB_HOOKS=kprobe "${AOD[@]}" trace --config "$RESULTS/latency-only.yaml" --min-ms 0 --json --duration 40 >"$RESULTS/reload.stdout" 2>"$RESULTS/reload.stderr" &
tp=$!
wait_attached "$RESULTS/reload.stderr" || fail=1
umount "$SMB_MNT"
rmmod_cifs "$RESULTS/reload.rmmod.err" >"$RESULTS/reload.rmmod.rc"
sleep 3
lsmod | grep -q '^cifs ' && echo loaded >"$RESULTS/reload.after-rmmod" || echo unloaded >"$RESULTS/reload.after-rmmod"
modprobe cifs
mount -t cifs "$SMB_SHARE" "$SMB_MNT" -o "$SMB_OPTS"
sleep 4
date +%s%N >"$RESULTS/reload.workload-start-ns"
workload 5
wait $tp
echo $? >"$RESULTS/reload.rc"
echo "  rmmod rc=$(cat "$RESULTS/reload.rmmod.rc") ($(cat "$RESULTS/reload.after-rmmod")), trace rc=$(cat "$RESULTS/reload.rc"), lines=$(wc -l <"$RESULTS/reload.stdout")"
tail -n 6 "$RESULTS/reload.stderr"
exit $fail
