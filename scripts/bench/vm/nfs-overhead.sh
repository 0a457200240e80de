#!/usr/bin/env bash
# `make bench-vm` (BENCH_VM=nfs): the same NFS workload timed without aod,
# with `aod run` attached, and with aod and its flight recorder off, in
# alternating rounds inside the VM (the order rotated each round, so no
# condition always goes first; one aod started and stopped per "with" run;
# medians in the report, so a TCG host's hiccups and drift matter less).
# Each timed run follows a small untimed one and a second's pause.
#
# Workload per run, on the v3 and the v4.1 mount (nfs-setup.sh): create+write
# FILES files of 64 KiB each, sync, drop caches, read them all, ls -l, stat,
# delete. Bash builtins where they do (one exec per step, not per file), so
# the time is the NFS client's and server's, not process start-up.
#
# aod's config is the shipped default (config/aod.yaml: SMB latency, error and
# connection rules, nfs_latency on nfsslower, nfs_error on nfserr) with every
# latency threshold raised to 10 s and more: steady-state tracing, nothing
# fires. During the "with" runs kernel.bpf_stats_enabled=1; bpftool prog show
# before and after each, and the kernel's own RPC count (per-op statistics in
# /proc/self/mountstats) before and after every run, give
# nfs-overhead-report.ts the BPF run time per RPC.
#
# Writes (cwd = $RESULTS): nfs-setup.out, env-nfs, aod-cmd, config.yaml,
# config-norec.yaml, aod-<label>.log, runs.tsv (label, aod: 0 without, 1 with,
# 2 with recorder off, seconds, aod CPU ticks), phases.tsv (seconds per step), progs-<label>-{before,after}.json,
# mountstats-<label>-{before,after}, nfs-overhead.json (the run's facts).
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}"
NAME=nfs-overhead
FILES=${1:-60}                            # files per mount and run (~900 RPCs)
PAIRS=${2:-5}                             # (without, with, with recorder off) rounds
KB=64                                     # size of each file

# shellcheck source=SCRIPTDIR/../../../test/vm/scenarios/lib/aod.sh
source "$PROJECT/test/vm/scenarios/lib/aod.sh"
# shellcheck source=SCRIPTDIR/rounds.sh
source "$PROJECT/scripts/bench/vm/rounds.sh"

say "nfs-setup"
bash "$PROJECT/scripts/vm/guest/nfs-setup.sh" >"$RESULTS/nfs-setup.out" 2>&1 || die "nfs-setup failed: $(tail -n 15 "$RESULTS/nfs-setup.out")"
# shellcheck source=/dev/null
source /run/vm/env-nfs
cp /run/vm/env-nfs "$RESULTS/env-nfs"

rm -rf "$OUT"
sed -e "s|^aod_output_dir: .*|aod_output_dir: $OUT|" \
  -e 's/\(default_threshold_ms:\) *[0-9]*/\1 10000/' \
  -e 's/\bthreshold: *[0-9]*/threshold: 10000/' \
  -e 's/\(max_latency_ms:\) *[0-9]*/\1 60000/' \
  "$PROJECT/config/aod.yaml" >"$CONF"
low=$(grep -En '(threshold|threshold_ms|max_latency_ms): *[0-9]+' "$CONF" | grep -Ev ': *[0-9]{5,}')
[[ -z $low ]] || die "a threshold in $CONF is still low: $low"
{ grep -Eq "^ *tool: *nfsslower" "$CONF" && grep -Eq "^ *tool: *nfserr" "$CONF"; } || die "$CONF lacks the NFS rules"
CONF_NOREC=$RESULTS/config-norec.yaml     # the same with the flight recorder off: its share of the cost
sed '/^flight_recorder:/,/^[a-z]/ s/^\( *enabled:\) *true/\1 false/' "$CONF" >"$CONF_NOREC"
grep -A1 '^flight_recorder:' "$CONF_NOREC" | grep -q 'enabled: false' || die "cannot turn the recorder off in $CONF_NOREC"

printf -v BLOB '%*s' $((KB * 1024)) ''    # one file's content (spaces)
# workload TAG: both mounts, one exec per step; T: when each step began (and the end)
workload() {
  local d3=$NFS3_MNT/ovh3-$1 d4=$NFS4_MNT/ovh4-$1 d i f=()   # (one server directory behind both)
  T=("$EPOCHREALTIME")
  mkdir "$d3" "$d4" || return 1
  for d in "$d3" "$d4"; do
    for ((i = 1; i <= FILES; i++)); do
      printf '%s' "$BLOB" >"$d/f$i" || return 1
      f+=("$d/f$i")
    done
  done
  T+=("$EPOCHREALTIME"); sync
  T+=("$EPOCHREALTIME"); echo 3 >/proc/sys/vm/drop_caches
  T+=("$EPOCHREALTIME"); cat "${f[@]}" >/dev/null || return 1
  T+=("$EPOCHREALTIME"); ls -l "$d3" "$d4" >/dev/null || return 1
  T+=("$EPOCHREALTIME"); stat "${f[@]}" >/dev/null || return 1
  T+=("$EPOCHREALTIME"); rm -r "$d3" "$d4" || return 1
  T+=("$EPOCHREALTIME")
}
cpu_ticks() { local s; s=$(<"/proc/$1/stat") && s=${s##*) } && read -r -a s <<<"$s" && echo $((s[11] + s[12])); }
snap() { cat /proc/self/mountstats >"$RESULTS/mountstats-$1"; }
# timed LABEL AOD(0|1|2): a small untimed run, then one timed run (mountstats around it, bpftool
# too with aod), a runs.tsv line
timed() {
  local c0=0 c1=0
  FILES=5 workload "$1-settle" || die "workload $1-settle failed"
  sleep 1                                 # every run starts alike: the same code paths just run, a second idle
  snap "$1-before"
  if (($2)); then bpftool prog show -j >"$RESULTS/progs-$1-before.json"; c0=$(cpu_ticks "$AOD_PID"); fi
  workload "$1" || die "workload $1 failed"
  if (($2)); then c1=$(cpu_ticks "$AOD_PID"); bpftool prog show -j >"$RESULTS/progs-$1-after.json"; fi
  snap "$1-after"
  echo "$1 ${T[*]}" | awk '{ printf "%s", $1; for (i = 3; i <= NF; i++) printf "\t%.3f", $i - $(i - 1); print "" }' >>"$RESULTS/phases.tsv"
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(awk -v a="${T[0]}" -v b="${T[-1]}" 'BEGIN{printf "%.3f", b-a}')" $((c1 - c0)) | tee -a "$RESULTS/runs.tsv"
}
# timed_aod LABEL AOD(1|2) CONF: aod run attached (bpf stats on) for one timed run
timed_aod() {
  local log=$RESULTS/aod-$1.log saved=$CONF
  echo 1 >/proc/sys/kernel/bpf_stats_enabled || die "kernel.bpf_stats_enabled cannot be set"
  CONF=$3; start_aod "$log"; CONF=$saved
  wait_log "$log" '"msg":"ready"' 90 || die "aod run ($1) did not get ready"
  wait_log "$log" 'attached nfsslower via' 10 || die "aod ($1) is ready but did not attach the NFS tools"
  timed "$1" "$2"
  stop_aod
  echo 0 >/proc/sys/kernel/bpf_stats_enabled
  [[ $(<"$RESULTS/aod.rc") == 0 ]] || die "aod run ($1) exited $(<"$RESULTS/aod.rc")"
}

printf 'label\tcreate+write\tsync\tdrop_caches\tread\tls\tstat\tdelete\n' >"$RESULTS/phases.tsv"
: >"$RESULTS/runs.tsv"
warm_up
say "$PAIRS rounds (without, with, with recorder off) of $FILES files of $KB KiB per mount"
rotated_rounds "$PAIRS"

jq -n --argjson files "$FILES" --argjson kib "$KB" --argjson pairs "$PAIRS" --arg kernel "$(uname -r)" \
  --argjson vcpus "$(nproc)" --arg cpu "$(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: *//')" \
  --argjson hz "$(getconf CLK_TCK)" --arg aod "$(<"$RESULTS/aod-cmd")" --arg nfs_hooks "$(hooks nfsslower)" \
  --arg nfserr_hooks "$(hooks nfserr)" --arg smb_hooks "$(hooks smbslower)" --argjson guest_s "$SECONDS" \
  '{files: $files, file_kib: $kib, pairs: $pairs, kernel: $kernel, vcpus: $vcpus, guest_cpu: $cpu, clk_tck: $hz,
    aod: $aod, hooks: {nfsslower: $nfs_hooks, nfserr: $nfserr_hooks, smbslower: $smb_hooks}, guest_seconds: $guest_s}' \
  >"$RESULTS/nfs-overhead.json" || die "cannot write nfs-overhead.json"
cat "$RESULTS/nfs-overhead.json"
exit 0
