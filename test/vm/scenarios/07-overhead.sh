#!/usr/bin/env bash
# 07-overhead: the same SMB workload (create+write, read, list, delete N files)
# timed without and with `aod run` attached, inside the VM, in alternating
# pairs (aod started and stopped for each "with" run; medians reported, so a
# TCG host's hiccups and drift matter less). aod runs a production-like
# config whose thresholds nothing here reaches (steady-state tracing cost,
# no collections). Not a pass/fail timing test: vm.test.ts checks the numbers
# exist and prints them, with a BENCHMARKS.md row.
# Each pair also times aod with its flight recorder off (the recorder's share).
# Writes (cwd = $RESULTS): aod-cmd, config.yaml, aod-<pair>.log, aod.log (all
# of them), aod.rc, runs.tsv (label, aod, seconds), overhead.json (medians,
# spread, aod's own CPU seconds during the "with" runs), overhead.md (a
# BENCHMARKS.md table row).
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}"
NAME=07-overhead
N=${1:-12}                                # files per run
PAIRS=${2:-2}                             # (without, with) pairs; more with: run.sh "" 07-overhead 12 5
KB=64                                     # size of each file

# shellcheck source=lib/aod.sh
source "$(dirname "$0")/lib/aod.sh"

rm -rf "$OUT"
cat >"$CONF" <<YAML
# Production-like, prototype key style; thresholds above anything this VM does.
watch_interval_sec: 5
aod_output_dir: $OUT

watcher:
  actions: [dmesg, debugdata, stats, mounts]

guardian:
  anomalies:
    latency:
      type: "Latency"
      tool: "smbslower"
      mode: "all"
      acceptable_count: 10
      default_threshold_ms: 1000
      track_commands:
        - command: SMB2_WRITE
          threshold: 1000
        - command: SMB2_READ
          threshold: 1000
      max_latency_ms: 10000
      actions: [dmesg, debugdata, stats, mounts]
    error:
      type: "Error"
      tool: "smbiosnoop"
      mode: "trackonly"
      acceptable_count: 10
      track_codes: [EACCES, EIO, ENOSPC, ETIMEDOUT, ECONNRESET, ECONNREFUSED, EHOSTDOWN]
      actions: [dmesg, debugdata, stats, mounts]

cleanup:
  cleanup_interval_sec: 60
  max_log_age_days: 2
  max_total_log_size_mb: 50

audit:
  enabled: false
YAML
# The same with the flight recorder off: its share of the cost.
CONF_NOREC=$RESULTS/config-norec.yaml
{ cat "$CONF"; printf 'flight_recorder:\n  enabled: false\n'; } >"$CONF_NOREC"

# workload TAG: N files of KB KiB: create+write, (caches dropped) read, list, delete
workload() {
  local d=$SMB_MNT/ovh-$1 i
  mkdir "$d" || return 1
  for ((i = 1; i <= N; i++)); do head -c $((KB * 1024)) /dev/zero >"$d/f$i" || return 1; done
  sync
  echo 3 >/proc/sys/vm/drop_caches
  for ((i = 1; i <= N; i++)); do cat "$d/f$i" >/dev/null || return 1; done
  ls -l "$d" >/dev/null || return 1
  for ((i = 1; i <= N; i++)); do rm "$d/f$i" || return 1; done
  rmdir "$d"
}
# timed LABEL AOD(0|1): one run, appended to runs.tsv
timed() {
  local t0 t1
  t0=$(date +%s.%N)
  workload "$1" || die "workload $1 failed"
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\n' "$1" "$2" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" | tee -a "$RESULTS/runs.tsv"
}

: >"$RESULTS/runs.tsv"
say "warm-up"
N=5 workload warm || die "warm-up workload failed"
say "$PAIRS pairs (without, with) of $N files of $KB KiB"
LOG=$RESULTS/aod.log
: >"$LOG"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
aod_cpu=0
for ((p = 1; p <= PAIRS; p++)); do
  timed "without-$p" 0
  start_aod "$RESULTS/aod-$p.log"
  wait_log "$RESULTS/aod-$p.log" '"msg":"ready"' 90 || die "aod run did not get ready"
  wait_log "$RESULTS/aod-$p.log" 'attached smbslower via' 5 || die "aod is ready but did not attach the SMB tools"
  sleep 1                                 # start-up work (retention, first poll) settles
  c0=$(cpu_ticks "$AOD_PID")
  timed "with-$p" 1
  aod_cpu=$((aod_cpu + $(cpu_ticks "$AOD_PID") - c0))
  stop_aod
  [[ $(cat "$RESULTS/aod.rc") == 0 ]] || die "aod run exited $(cat "$RESULTS/aod.rc")"
  cat "$RESULTS/aod-$p.log" >>"$LOG"
  # aod without its flight recorder (runs.tsv aod column 2)
  CONF_SAVED=$CONF; CONF=$CONF_NOREC
  start_aod "$RESULTS/aod-norec-$p.log"
  CONF=$CONF_SAVED
  wait_log "$RESULTS/aod-norec-$p.log" '"msg":"ready"' 90 || die "aod run (recorder off) did not get ready"
  wait_log "$RESULTS/aod-norec-$p.log" 'attached smbslower via' 5 || die "aod (recorder off) did not attach"
  sleep 1
  timed "with-norec-$p" 2
  stop_aod
  [[ $(cat "$RESULTS/aod.rc") == 0 ]] || die "aod run (recorder off) exited $(cat "$RESULTS/aod.rc")"
done
echo 0 >"$RESULTS/aod.rc"

hooks=$(grep -o 'attached smbslower via [a-z]*' "$LOG" | head -1 | awk '{print $NF}')
events=$(grep '"msg":"stopped"' "$LOG" | sed -n 's/.*"events":\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
anomalies=$(grep '"msg":"stopped"' "$LOG" | sed -n 's/.*"anomalies":\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
# Medians per condition (robust against a TCG host's hiccups), spread as min..max.
awk -F'\t' -v n="$N" -v kb="$KB" -v kernel="$(uname -r)" -v hooks="$hooks" -v aod="$(cat "$RESULTS/aod-cmd")" \
  -v events="$events" -v anomalies="$anomalies" -v cpu_s="$(awk -v t="$aod_cpu" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t / hz}')" \
  -v date="$(date -u +%Y-%m-%d)" -v cpus="$(nproc)" -v res="$RESULTS" '
  function median(a, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
  { if ($2 == 1) { w[++nw] = $3; ws += $3 } else if ($2 == 2) { r[++nr] = $3 } else { o[++no] = $3; os += $3 }
    runs = runs sep "{\"label\":\"" $1 "\",\"aod\":" ($2 >= 1 ? "true" : "false") ",\"recorder\":" ($2 == 1 ? "true" : "false") ",\"seconds\":" $3 "}"; sep = "," }
  END {
    without = median(o, no); with = median(w, nw); pct = (with - without) / without * 100
    norec = median(r, nr); recpct = (with - norec) / norec * 100
    spread = sprintf("without %.2f..%.2f s, with %.2f..%.2f s", o[1], o[no], w[1], w[nw])
    printf "{\"files\":%d,\"file_kib\":%d,\"pairs\":%d,\"kernel\":\"%s\",\"hooks\":\"%s\",\"vcpus\":%d,\"aod\":\"%s\",\"without_s\":%.3f,\"with_s\":%.3f,\"slowdown_pct\":%.1f,\"spread\":\"%s\",\"aod_cpu_s\":%s,\"with_total_s\":%.3f,\"aod_events\":%d,\"aod_anomalies\":%d,\"with_norec_s\":%.3f,\"recorder_pct\":%.1f,\"runs\":[%s]}\n", n, kb, nw, kernel, hooks, cpus, aod, without, with, pct, spread, cpu_s, ws, events, anomalies, norec, recpct, runs > (res "/overhead.json")
    printf "| %s | qemu TCG guest, %d vCPU, %s, aod hooks %s | SMB on loopback Samba: %d files x %d KiB create+write, read, list, delete; median of %d runs each | %.2f s | %.2f s | %+.1f%% | %s; aod CPU %s s over %.1f s of workload with it; recorder off: %.2f s (recorder %+.1f%%) |\n", date, cpus, kernel, hooks, n, kb, nw, without, with, pct, spread, cpu_s, ws, norec, recpct > (res "/overhead.md")
  }' "$RESULTS/runs.tsv"
cat "$RESULTS/overhead.json"
cat "$RESULTS/overhead.md"
echo "$SECONDS" >"$RESULTS/guest-seconds"
exit 0
