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
# Flight recorder: a first aod is killed with SIGKILL (its tracefs instance
# stays), the next start removes it: one instance while running, none after
# SIGTERM; 6 s of fast commands before phase A, so kernel_trace.log reaches
# back at least 5 s before detection.
# Writes (cwd = $RESULTS): aod-cmd, config.yaml, aod.log, aod.rc, phase-*.ns,
# bundles.json, bundles/<name>/{show.json,<members>}, marker. vm.test.ts asserts.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}"
NAME=03-slow

# shellcheck source=lib/aod.sh
source "$(dirname "$0")/lib/aod.sh"

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

# Scraped by a real Prometheus below (issue 16): per-share histograms from the kernel.
metrics:
  listen: 127.0.0.1:9469
YAML

mkdir -p "$SMB_MNT/slow"
INSTANCES=/sys/kernel/tracing/instances
# A run killed with SIGKILL leaves its flight recorder instance; the next start removes it.
say "starting ${AOD[*]} run, then kill -9"
start_aod "$RESULTS/aod-killed.log"
wait_log "$RESULTS/aod-killed.log" '"msg":"ready"' 90 || die "aod run (to be killed) did not get ready"
kill -KILL "$AOD_PID"; wait "$AOD_PID" 2>/dev/null
ls "$INSTANCES" >"$RESULTS/instances-after-kill"
LOG=$RESULTS/aod.log
say "starting ${AOD[*]} run"
start_aod "$LOG"
wait_log "$LOG" '"msg":"ready"' 90 || die "aod run did not get ready"
wait_log "$LOG" 'attached smbslower via' 5 || die "aod is ready but did not attach the SMB tools"
ls "$INSTANCES" >"$RESULTS/instances-running"

# Fast commands for 6 s: the flight recorder holds them when the anomaly comes.
say "before: 6 s of fast commands"
echo before >"$SMB_MNT/slow/before"; sync   # reads only below: no writeback (kworker) lands in phase A
for i in $(seq 1 12); do ls "$SMB_MNT/slow" >/dev/null; cat "$SMB_MNT/slow/before" >/dev/null; sleep 0.5; done
sleep 2                                   # cifs defers closes (closetimeo 1 s, by a kworker): let them land now

marker="aod-vm-marker-03-slow-$RANDOM"
echo "$marker" >"$RESULTS/marker"
echo "$marker" >/dev/kmsg

# A real Prometheus (the host's, Debian's package) scraping aod every second.
PROM_DIR=/tmp/prometheus
PROM_PID=""
fetch() { "$BUN" -e 'const r = await fetch(process.argv[1]); process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1)' "$1"; }
if command -v prometheus >/dev/null; then
  mkdir -p "$PROM_DIR"
  printf 'global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: aod\n    static_configs:\n      - targets: ["127.0.0.1:9469"]\n' >"$PROM_DIR/prometheus.yml"
  prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
    --web.listen-address=127.0.0.1:9090 --log.level=warn >"$RESULTS/prometheus.log" 2>&1 &
  PROM_PID=$!
  for _ in $(seq 1 120); do fetch 'http://127.0.0.1:9090/api/v1/query?query=up' 2>/dev/null | grep -q '"value"' && break; sleep 0.5; done
  say "prometheus: $(fetch 'http://127.0.0.1:9090/api/v1/query?query=up' 2>&1 | head -c 200)"
else
  say "no prometheus binary: the metrics phase is skipped"
fi

say "phase A: netem delay 200ms, 5 small files (>= 3 commands each)"
now_ns >"$RESULTS/phase-a.ns"
tc qdisc add dev lo root netem delay 200ms || die "tc netem failed"
t0=$(date +%s.%N)
for i in $(seq 1 5); do
  echo "slow-$i" >"$SMB_MNT/slow/f$i"
done
say "  phase A workload took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
wait_log "$LOG" '"msg":"bundle written".*"anomaly":"latency"' 30 || die "no latency bundle after phase A"
if [[ -n $PROM_PID ]]; then
  sleep 3                                 # a few more scrapes after the slow commands
  fetch http://127.0.0.1:9469/metrics >"$RESULTS/metrics.txt" || say "GET /metrics failed"
  q='histogram_quantile(0.99, sum by (le, command, share) (rate(aod_smb_command_duration_seconds_bucket[1m])))'
  fetch "http://127.0.0.1:9090/api/v1/query?query=$("$BUN" -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$q")" >"$RESULTS/prom-p99.json" || say "Prometheus query failed"
  kill -TERM "$PROM_PID"; wait "$PROM_PID" 2>/dev/null
fi

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
ls "$INSTANCES" >"$RESULTS/instances-after-stop"
collect_bundles
rm -rf "$SMB_MNT/slow"
grep -E '"msg":"(anomaly detected|bundle written|stopped)"' "$LOG" | cut -c1-300
echo "$SECONDS" >"$RESULTS/guest-seconds"
exit 0
