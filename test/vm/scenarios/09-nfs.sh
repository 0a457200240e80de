#!/usr/bin/env bash
# 09-nfs: aod on a real NFS client: knfsd on the VM's loopback, a v3 and a
# v4.1 mount (scripts/vm/guest/nfs-setup.sh).
#  coverage  `aod trace --proto nfs --json --min-ms 0` during a mixed workload
#            on both mounts; /proc/self/mountstats before and after (the
#            kernel's per-op counts): trace.jsonl, mountstats-{before,after}
#  errors    (unless the argument is `coverage`) `aod run` with an NFS
#            latency rule and an EROFS error rule: stat of missing files
#            (ENOENT, untracked: nothing fires), then creates in the
#            read-only export through both mounts: one `nfsro` bundle
#  slow      the read-only submounts unmounted (each export then has one
#            mount per version), netem 100 ms on lo, small writes on the v3
#            mount: one `nfslat` bundle naming the export
# Writes (cwd = $RESULTS): phases, nfs-setup.out, env-nfs, trace.*,
# mountstats-*, config.yaml, aod.log, aod.rc, phase-*.ns, bundles.json,
# bundles/<name>/{show.json,<members>}. vm.test.ts asserts.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}"
NAME=09-nfs
ONLY=${1:-all}

# shellcheck source=lib/aod.sh
source "$(dirname "$0")/lib/aod.sh"

say "nfs-setup"
bash "$PROJECT/scripts/vm/guest/nfs-setup.sh" >"$RESULTS/nfs-setup.out" 2>&1 || die "nfs-setup failed: $(tail -n 15 "$RESULTS/nfs-setup.out")"
# shellcheck source=/dev/null
source /run/vm/env-nfs
cp /run/vm/env-nfs "$RESULTS/env-nfs"

nfs_workload() { # DIR N: creates, writes, reads, stats, lists, renames, removes
  local d=$1/wl-$RANDOM i
  mkdir -p "$d"
  for i in $(seq 1 "$2"); do
    echo "data-$i" >"$d/f$i"
    cat "$d/f$i" >/dev/null
    stat "$d/f$i" >/dev/null
    ls -l "$d" >/dev/null
  done
  dd if=/dev/zero of="$d/big" bs=64k count=16 conv=fsync status=none
  echo 3 >/proc/sys/vm/drop_caches
  cat "$d/big" >/dev/null
  mv "$d/f1" "$d/g1"
  chmod 600 "$d/f2"
  rm -rf "$d"
}

# --- coverage -------------------------------------------------------------
say "coverage: aod trace --proto nfs --json --min-ms 0"
"${AOD[@]}" trace --proto nfs --json --min-ms 0 --errors --hist >"$RESULTS/trace.jsonl" 2>"$RESULTS/trace.stderr" &
TPID=$!
for _ in $(seq 1 360); do grep -q 'aod trace:' "$RESULTS/trace.stderr" && break; sleep 0.25; done
grep -q 'aod trace:' "$RESULTS/trace.stderr" || { kill -INT $TPID; die "aod trace did not attach: $(tail -n 5 "$RESULTS/trace.stderr")"; }
cat /proc/self/mountstats >"$RESULTS/mountstats-before"
nfs_workload "$NFS3_MNT" 30
nfs_workload "$NFS4_MNT" 30
sync
cat /proc/self/mountstats >"$RESULTS/mountstats-after"
sleep 1
kill -INT $TPID
wait $TPID
echo $? >"$RESULTS/trace.rc"
say "coverage: $(wc -l <"$RESULTS/trace.jsonl") events"

if [[ $ONLY == coverage ]]; then
  echo coverage >"$RESULTS/phases"
  exit 0
fi
echo "coverage errors slow" >"$RESULTS/phases"

# --- errors and slow under aod run ------------------------------------------
rm -rf "$OUT"
cat >"$CONF" <<YAML
watch_interval_sec: 5
aod_output_dir: $OUT
guardian:
  anomalies:
    nfslat:
      type: Latency
      tool: nfsslower
      mode: all
      acceptable_count: 5
      default_threshold_ms: 150
      max_latency_ms: 8000
      cooldown_sec: 300
      actions: [dmesg, nfs_mountstats, nfsstat, nfs_mounts]
    nfsro:
      type: Error
      tool: nfsiosnoop
      mode: trackonly
      track_codes: [EROFS]
      acceptable_count: 2
      cooldown_sec: 300
      actions: [nfs_mountstats, nfs_mounts]
YAML
LOG=$RESULTS/aod.log
say "starting ${AOD[*]} run"
start_aod "$LOG"
wait_log "$LOG" '"msg":"ready"' 120 || die "aod run did not get ready"
wait_log "$LOG" 'attached nfsslower via' 10 || die "aod is ready but did not attach the NFS tools"

say "errors: ENOENT (untracked), then EROFS through both mounts"
now_ns >"$RESULTS/phase-enoent.ns"
for i in $(seq 1 6); do
  stat "$NFS3_MNT/missing-$i" >/dev/null 2>&1
  stat "$NFS4_MNT/missing-$i" >/dev/null 2>&1
done
sleep 6                                   # longer than the window: ENOENT alone must not fire
now_ns >"$RESULTS/phase-erofs.ns"
for i in 1 2 3; do
  touch "$NFS3_RO_DIR/new-$i" 2>/dev/null && die "creating $NFS3_RO_DIR/new-$i succeeded"
  touch "$NFS4_RO_DIR/new-$i" 2>/dev/null && die "creating $NFS4_RO_DIR/new-$i succeeded"
done
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"nfsro"' 60 || die "no nfsro bundle"

say "slow: read-only submounts unmounted, netem 100ms, writes on $NFS3_MNT"
umount "$NFS3_RO_DIR" "$NFS4_RO_DIR" 2>/dev/null
grep -c ' nfs' /proc/self/mounts >"$RESULTS/nfs-mounts-at-slow"
now_ns >"$RESULTS/phase-slow.ns"
tc qdisc add dev lo root netem delay 100ms || die "tc netem failed"
for i in $(seq 1 4); do echo "slow-$i" >"$NFS3_MNT/slow-$i"; done
sync
tc qdisc del dev lo root
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"nfslat"' 60 || die "no nfslat bundle"

stop_aod
collect_bundles
say "done"
