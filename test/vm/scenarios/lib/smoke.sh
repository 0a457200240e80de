#!/usr/bin/env bash
# The harness's smoke test, run first by 01-check (one boot less than a
# scenario of its own): the VM has what aod needs — cifs.ko, a mounted SMB3
# share that round-trips data, cifs tracepoints, /proc/fs/cifs/Stats, cifs BTF.
# Runs inside the guest (cwd = $RESULTS = /results); env from /run/vm/env.
set -euo pipefail
: "${RESULTS:=/results}" "${SMB_MNT:=/mnt/smb}"

STEP=start
step() { STEP=$*; echo "smoke: $STEP"; }
trap 'echo "smoke: FAILED at: $STEP (line $LINENO)"' ERR

step "cifs module loaded"
[[ -d /sys/module/cifs ]]
uname -r >"$RESULTS/kernel"

step "share mounted"
grep " $SMB_MNT cifs " /proc/mounts | tee "$RESULTS/mount"
grep -q 'vers=3' "$RESULTS/mount"

step "write/read/list/delete round trip"
f=$SMB_MNT/smoke-$$.txt
payload="hello from aod smoke $(date +%s)"
echo "$payload" >"$f"
[[ "$(cat "$f")" == "$payload" ]]
ls -la "$SMB_MNT" >"$RESULTS/ls"
grep -q "smoke-$$.txt" "$RESULTS/ls"
[[ -f $SMB_SRV_DIR/smoke-$$.txt ]]          # really landed on the server side
rm "$f"
[[ ! -e $f ]]
! ls "$SMB_MNT" | grep -q "smoke-$$.txt"
echo ok >"$RESULTS/roundtrip"

step "cifs tracepoints"
T=/sys/kernel/tracing/events/cifs
[[ -f $T/smb3_cmd_enter/format ]]
mkdir -p "$RESULTS/tracepoints"
for ev in smb3_cmd_enter smb3_cmd_done smb3_cmd_err; do
  [[ -f $T/$ev/format ]]
  cat "$T/$ev/format" >"$RESULTS/tracepoints/$ev.format"
done
ls "$T" >"$RESULTS/tracepoints/list"

step "/proc/fs/cifs/Stats shows commands"
cp /proc/fs/cifs/Stats "$RESULTS/cifs-stats"
grep -Eq '^SMBs: *[1-9]' "$RESULTS/cifs-stats"
grep -Eq '^Creates: *[1-9]' "$RESULTS/cifs-stats"
grep -Eq '^Writes: *[1-9]' "$RESULTS/cifs-stats"

step "cifs BTF"
[[ -f /sys/kernel/btf/cifs ]]
stat -c %s /sys/kernel/btf/cifs >"$RESULTS/btf-cifs-size"

step "done"
echo "smoke: ok"
