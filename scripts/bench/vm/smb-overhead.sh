#!/usr/bin/env bash
# `make bench-vm` (BENCH_VM=smb): the same SMB workload timed without aod,
# with `aod run` attached, and with aod and its flight recorder off, in
# alternating rounds inside the VM (issue 18, goal 5). The order of the three
# conditions is rotated each round, so no condition always goes first; one
# aod is started and stopped per "with" run; the report uses medians, so a TCG
# host's hiccups and drift matter less. Each timed run follows a small
# untimed one and a second's pause.
#
# Workload per run, on the VM's cifs mount ($SMB_MNT, loopback Samba):
# FILES small files of SMALL_KB KiB over DIRS directories, created and
# written; one BIG_MB MiB file written sequentially; sync; drop caches (so
# the reads below go to the server); stat of every small file, readdir of
# every directory (a glob), read of every small file, sequential read of the
# big file; delete all. Bash builtins for the per-file work (redirections,
# [[ -f ]], globs, read), one exec per step otherwise (mkdir, dd, rm), so the
# time is the cifs client's and Samba's, not process start-up.
#
# Every step boundary reads /proc/fs/cifs/Stats (a builtin read, outside the
# timed steps): the kernel's own count of SMB commands per command and per
# share, for the commands per run and to check that the reads really reach
# the server (SMB2_READ counts in the read steps).
#
# aod's config is the shipped default (config/aod.yaml) with every latency
# threshold raised to 10 s and more: steady-state tracing, nothing fires.
# During the "with" runs kernel.bpf_stats_enabled=1; bpftool prog show before
# and after each gives smb-overhead-report.ts the BPF run time per command.
#
# Writes (cwd = $RESULTS): aod-cmd, config.yaml, config-norec.yaml,
# aod-<label>.log, runs.tsv (label, aod: 0 without, 1 with, 2 with recorder
# off, seconds, aod CPU ticks: utime + stime, dead threads too, seconds from
# the last aod's exit to the run's start), released.tsv (how long each aod's
# BPF programs took to leave the kernel after it exited), phases.tsv
# (seconds per step), cifs-stats-<label> (/proc/fs/cifs/Stats at each step
# boundary, separated by "@@ <step>" lines), vmstat-<label>-{before,after}
# (/proc/vmstat around each run), progs-<label>-{before,after}.json,
# smb-overhead.json (the run's facts).
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}"
NAME=smb-overhead
FILES=${1:-320}                           # small files per run (~5500 SMB commands with the rest)
PAIRS=${2:-5}                             # (without, with, with recorder off) rounds
BIG_MB=${3:-64}                           # the sequential file, MiB
DIRS=${4:-6}                              # directories the small files are spread over
SMALL_KB=4                                # size of each small file
IDLE_AFTER_STOP=3                         # seconds idle after aod's programs are gone
STOPPED=""                                # $EPOCHREALTIME when the last aod exited

# shellcheck source=SCRIPTDIR/../../../test/vm/scenarios/lib/aod.sh
source "$PROJECT/test/vm/scenarios/lib/aod.sh"
# shellcheck source=SCRIPTDIR/rounds.sh
source "$PROJECT/scripts/bench/vm/rounds.sh"

mountpoint -q "$SMB_MNT" || die "$SMB_MNT is not mounted"
grep -qs "SMB3 CMD" /proc/fs/cifs/Stats || die "/proc/fs/cifs/Stats lacks the per-command table (CONFIG_CIFS_STATS2)"
grep " $SMB_MNT cifs " /proc/mounts >"$RESULTS/mount"

rm -rf "$OUT"
sed -e "s|^aod_output_dir: .*|aod_output_dir: $OUT|" \
  -e 's/\(default_threshold_ms:\) *[0-9]*/\1 10000/' \
  -e 's/\bthreshold: *[0-9]*/threshold: 10000/' \
  -e 's/\(max_latency_ms:\) *[0-9]*/\1 60000/' \
  "$PROJECT/config/aod.yaml" >"$CONF"
low=$(grep -En '(threshold|threshold_ms|max_latency_ms): *[0-9]+' "$CONF" | grep -Ev ': *[0-9]{5,}')
[[ -z $low ]] || die "a threshold in $CONF is still low: $low"
grep -Eq "^ *tool: *smbslower" "$CONF" || die "$CONF lacks the SMB latency rule"
CONF_NOREC=$RESULTS/config-norec.yaml     # the same with the flight recorder off: its share of the cost
sed '/^flight_recorder:/,/^[a-z]/ s/^\( *enabled:\) *true/\1 false/' "$CONF" >"$CONF_NOREC"
grep -A1 '^flight_recorder:' "$CONF_NOREC" | grep -q 'enabled: false' || die "cannot turn the recorder off in $CONF_NOREC"

printf -v SMALL '%*s' $((SMALL_KB * 1024 - 1)) ''
SMALL+=$'\n'                              # one small file's content: spaces and a newline (read -r gets one line)
STEPS=(create+write big-write sync drop_caches stat readdir read-small read-big delete)
# step: the step just run ends here; /proc/fs/cifs/Stats is read between E (end) and B (begin of the next)
step() { E+=("$EPOCHREALTIME"); read -r -d '' s </proc/fs/cifs/Stats; S+=("$s"); B+=("$EPOCHREALTIME"); }
# workload TAG: the steps above on $SMB_MNT/ovh-TAG; B/E: each step's begin and end, S: Stats at each boundary
workload() {
  local top=$SMB_MNT/ovh-$1 x k i n=0 f=() g=() d=() s
  for ((k = 1; k <= DIRS; k++)); do d+=("$top/d$k"); done
  B=() E=() S=()
  read -r -d '' s </proc/fs/cifs/Stats; S+=("$s"); B+=("$EPOCHREALTIME")
  mkdir "$top" "${d[@]}" || return 1
  for ((i = 1; i <= FILES; i++)); do
    x=$top/d$((i % DIRS + 1))/f$i
    printf '%s' "$SMALL" >"$x" || return 1
    f+=("$x")
  done
  step; dd if=/dev/zero of="$top/big" bs=1M count="$BIG_MB" status=none || return 1
  step; sync
  step; echo 3 >/proc/sys/vm/drop_caches
  step; for x in "${f[@]}"; do [[ -f $x ]] || return 1; done
  step; for x in "${d[@]}"; do g=("$x"/f*); n=$((n + ${#g[@]})); done
  ((n == FILES)) || { say "readdir found $n files, not $FILES"; return 1; }
  step; for x in "${f[@]}"; do read -r s <"$x" || return 1; done
  step; dd if="$top/big" of=/dev/null bs=1M status=none || return 1
  step; rm -r "$top" || return 1
  step
}
cpu_ticks() { local s; s=$(<"/proc/$1/stat") && s=${s##*) } && read -r -a s <<<"$s" && echo $((s[11] + s[12])); }
# timed LABEL AOD(0|1|2): a small untimed run, then one timed run (bpftool around it with aod), a runs.tsv line
timed() {
  local c0=0 c1=0 i ms sum=0 line=$1 since v0 v1
  FILES=30 BIG_MB=1 workload "$1-settle" || die "workload $1-settle failed"
  sleep 1                                 # every run starts alike: the same code paths just run, a second idle
  since=$(awk -v a="$STOPPED" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", a ? b - a : -1}')
  if (($2)); then bpftool prog show -j >"$RESULTS/progs-$1-before.json"; c0=$(cpu_ticks "$AOD_PID"); fi
  read -r -d '' v0 </proc/vmstat
  workload "$1" || die "workload $1 failed"
  read -r -d '' v1 </proc/vmstat
  printf '%s\n' "$v0" >"$RESULTS/vmstat-$1-before"; printf '%s\n' "$v1" >"$RESULTS/vmstat-$1-after"
  if (($2)); then c1=$(cpu_ticks "$AOD_PID"); bpftool prog show -j >"$RESULTS/progs-$1-after.json"; fi
  { printf '@@ start\n%s\n' "${S[0]}"; for ((i = 1; i < ${#S[@]}; i++)); do printf '@@ %s\n%s\n' "${STEPS[i - 1]}" "${S[i]}"; done; } >"$RESULTS/cifs-stats-$1"
  for ((i = 0; i < ${#E[@]}; i++)); do   # $EPOCHREALTIME is seconds.microseconds
    ms=$(((10#${E[i]/./} - 10#${B[i]/./} + 500) / 1000)); sum=$((sum + ms)); printf -v line '%s\t%d.%03d' "$line" $((ms / 1000)) $((ms % 1000))
  done
  echo "$line" >>"$RESULTS/phases.tsv"
  printf '%s\t%s\t%d.%03d\t%s\t%s\n' "$1" "$2" $((sum / 1000)) $((sum % 1000)) $((c1 - c0)) "$since" | tee -a "$RESULTS/runs.tsv"
}
# timed_aod LABEL AOD(1|2) CONF: aod run attached (bpf stats on) for one timed run
timed_aod() {
  local log=$RESULTS/aod-$1.log saved=$CONF i
  echo 1 >/proc/sys/kernel/bpf_stats_enabled || die "kernel.bpf_stats_enabled cannot be set"
  CONF=$3; start_aod "$log"; CONF=$saved
  wait_log "$log" '"msg":"ready"' 90 || die "aod run ($1) did not get ready"
  wait_log "$log" 'attached smbslower via' 10 || die "aod ($1) is ready but did not attach the SMB tools"
  timed "$1" "$2"
  stop_aod
  STOPPED=$EPOCHREALTIME
  echo 0 >/proc/sys/kernel/bpf_stats_enabled
  # aod's teardown must not run into the next run: wait until its programs have left the
  # kernel (their release is deferred), then IDLE_AFTER_STOP seconds more
  for ((i = 0; i < 100; i++)); do [[ $(bpftool prog show) =~ \ name\ (smb|nfs) ]] || break; sleep 0.2; done
  printf '%s\t%s\n' "$1" "$(awk -v a="$STOPPED" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b - a}')" >>"$RESULTS/released.tsv"
  sleep "$IDLE_AFTER_STOP"
  [[ $(<"$RESULTS/aod.rc") == 0 ]] || die "aod run ($1) exited $(<"$RESULTS/aod.rc")"
}

(IFS=$'\t'; echo "label	${STEPS[*]}") >"$RESULTS/phases.tsv"
: >"$RESULTS/runs.tsv"
: >"$RESULTS/released.tsv"
warm_up
say "$PAIRS rounds (without, with, with recorder off) of $FILES files of $SMALL_KB KiB in $DIRS directories and $BIG_MB MiB sequential"
rotated_rounds "$PAIRS"

jq -n --argjson files "$FILES" --argjson kib "$SMALL_KB" --argjson dirs "$DIRS" --argjson big "$BIG_MB" \
  --argjson pairs "$PAIRS" --arg kernel "$(uname -r)" --arg mount "$(<"$RESULTS/mount")" \
  --argjson vcpus "$(nproc)" --arg cpu "$(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: *//')" \
  --argjson hz "$(getconf CLK_TCK)" --arg aod "$(<"$RESULTS/aod-cmd")" --arg smb_hooks "$(hooks smbslower)" \
  --arg samba "$(smbd -V 2>/dev/null)" --argjson guest_s "$SECONDS" --argjson idle "$IDLE_AFTER_STOP" \
  '{files: $files, file_kib: $kib, dirs: $dirs, big_mib: $big, pairs: $pairs, kernel: $kernel, mount: $mount,
    vcpus: $vcpus, guest_cpu: $cpu, clk_tck: $hz, aod: $aod, samba: $samba, hooks: {smbslower: $smb_hooks},
    guest_seconds: $guest_s, idle_after_stop: $idle}' \
  >"$RESULTS/smb-overhead.json" || die "cannot write smb-overhead.json"
cat "$RESULTS/smb-overhead.json"
exit 0
