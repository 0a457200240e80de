#!/usr/bin/env bash
# vm-init: systemd
# 10-service: the service as users run it, under systemd as PID 1 (the line
# above makes run.sh boot the host's systemd; the scenario runs as
# aod-vm-scenario.service). The .debs come from the host: scripts/vm/packages.sh
# builds them from dist/aod into .cache/vm/packages (vm.test.ts runs it first).
# Phases (each line of `phases`: "<name> ok" or "<name> skipped: <why>"):
#   install   dpkg -i the package: aod.service enabled and active (the
#             packaged config), ready. cifs (which setup loaded for its
#             mount) and sunrpc are unloaded first: as on a real boot, the
#             service starts before the shares mount.
#   attach    modprobe cifs + mount, modprobe sunrpc: the running service
#             attaches the SMB tools ('attached smbslower via' in its journal)
#   config    /etc/aod/config.yaml edited (low threshold, cifs_verbose and
#             nfs_verbose; metrics on /run/aod/metrics.sock when this aod's
#             `aod config validate` takes a `metrics:` section) and
#             `systemctl restart aod`: a new MainPID, ready, attached at once
#   recorder  its flight recorder runs (journal line, tracefs instance aod)
#   bundle    netem 200 ms on lo: a latency bundle in /var/log/aod/batches,
#             written by the service (its journal line, _PID = MainPID), with
#             every action ok (journalctl, /proc/fs/cifs, cifsFYI and dynamic
#             debug, /proc/sys/sunrpc, the state dir /var/lib/aod)
#   security  `systemd-analyze security aod.service` (the running unit):
#             exposure OK or better
#   reload    only when the unit has ExecReload: `systemctl reload aod` with
#             a bad config keeps the service (same MainPID) and logs the
#             problem; a good one is taken (a reload line), still the same PID
#   metrics   only when the config took a `metrics:` section: the service
#             serves /metrics on /run/aod/metrics.sock (the packaged unit as
#             it is; the slow writes in its histograms), then, restarted with
#             listen 127.0.0.1:9469, on that port (with the drop-in README
#             gives when the unit keeps AF_INET out; kept for the upgrade)
#   upload    only when the config takes an `upload:` section and node and
#             Azurite (npm) are here: Azurite's blob server on 127.0.0.1:10000
#             (container aod, a container SAS in /etc/aod/sas, 0600 root),
#             `aod upload validate` ok, README's drop-in for the packaged unit
#             (upload.conf: AF_INET, IPAddressAllow=any; metrics.conf moved
#             aside meanwhile), restart: the start-up rescan uploads the
#             bundle(s) of the bundle phase, then an `aod snapshot`; every
#             local bundle uploaded once (upload status), in Azurite under the
#             prefix with its sidecar (sha256s equal, the sidecar's manifest
#             the bundle's manifest.json, as `aod bundles verify` checks), no
#             breaker; Azurite and the upload config stay for the upgrade
#   upgrade   dpkg -i a higher version of the same binary: the config is kept
#             (a conffile), the service restarted (new MainPID, InvocationID,
#             later ActiveEnterTimestamp), active, attached again (and
#             /metrics served again when the metrics phase ran; its upload
#             lane starts with nothing queued when the upload phase ran)
#   remove    dpkg -r (Azurite stopped first): stopped, the unit gone, the
#             config kept, no tracefs instance left
# sandbox-<step>: what the service's mount namespace (nsenter) lets it write
# and read, after install (modules not loaded yet), after attach (loaded
# after the service started) and after the config restart (loaded before).
# Writes (cwd = $RESULTS) what vm.test.ts asserts: phases, timings, pid1,
# versions, dpkg-*.log, dpkg.log, props-<step> (systemctl show),
# journal-<step>.log (that invocation's journal), sandbox-<step>,
# bundle-journal.json, bundles/, bundles.json, security.txt, marker,
# metrics-*, reload-*, upload-* (upload-status.json, upload-validate.txt,
# upload-blobs.json and upload-sidecars/ from Azurite, upload-local.json,
# upload-azurite.log: its access log), journal-upload.log.
set -uo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}" "${SMB_MNT:=/mnt/smb}" "${SMB_SHARE:=//127.0.0.1/share}"
NAME=10-service
cd "$RESULTS" || exit 1

PKGS=$PROJECT/.cache/vm/packages
CONF=/etc/aod/config.yaml
UNIT=/usr/lib/systemd/system/aod.service
OUT=/var/log/aod
INSTANCES=/sys/kernel/tracing/instances
PHASES=$RESULTS/phases
: >"$PHASES"
: >"$RESULTS/timings"

say() { echo "$NAME: [${SECONDS}s] $*"; }
die() {
  say "FAILED: $*"
  tc qdisc del dev lo root 2>/dev/null
  systemctl status aod --no-pager -l >"$RESULTS/status-at-failure" 2>&1
  journalctl -u aod --no-pager -o short-monotonic >"$RESULTS/journal-at-failure.log" 2>&1
  tail -n 30 "$RESULTS/journal-at-failure.log"
  exit 1
}
T0=$SECONDS
ok() {
  echo "$1 ok" >>"$PHASES"
  echo "$1 $((SECONDS - T0))" >>"$RESULTS/timings"
  say "phase $1: ok ($((SECONDS - T0)) s)"
  T0=$SECONDS
}
skip() {
  echo "$1 skipped: $2" >>"$PHASES"
  say "phase $1: skipped ($2)"
  T0=$SECONDS
}
prop() { systemctl show aod -p "$1" --value; }
# props STEP: the service's state, for vm.test.ts
props() {
  systemctl show aod -p ActiveState -p SubState -p MainPID -p InvocationID -p ActiveEnterTimestampMonotonic \
    -p NRestarts -p UnitFileState -p FragmentPath -p ExecMainStartTimestampMonotonic >"$RESULTS/props-$1"
}
# journal: the current invocation's lines (message only: aod's JSON)
journal() { journalctl --no-pager -o cat -u aod _SYSTEMD_INVOCATION_ID="$(prop InvocationID)" 2>/dev/null; }
# wait_journal REGEX SECONDS [COUNT]: until REGEX matches COUNT lines of the
# current invocation's journal; fails early when the service is not active
wait_journal() {
  local n=${3:-1} end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    (($(journal | grep -Ec "$1") >= n)) && return 0
    systemctl -q is-active aod || { say "aod.service is $(prop ActiveState) while waiting for /$1/"; return 1; }
    sleep 0.5
  done
  (($(journal | grep -Ec "$1") >= n)) && return 0
  say "timed out after $2 s waiting for /$1/ (x$n) in aod.service's journal"
  return 1
}
# save_journal STEP: the current invocation's journal
save_journal() { journal >"$RESULTS/journal-$1.log"; }
# wait_active SECONDS: until aod.service is active with a MainPID
wait_active() {
  local end=$((SECONDS + $1))
  while ((SECONDS < end)); do
    [[ $(prop ActiveState) == active && $(prop MainPID) != 0 ]] && return 0
    sleep 0.25
  done
  return 1
}
# sandbox STEP: per path, what the service's mount namespace allows (root's
# access(2) there: "read-only" is the mount, not permissions)
sandbox() {
  local pid p
  pid=$(prop MainPID)
  [[ $pid != 0 ]] || die "no MainPID for the sandbox probe"
  # shellcheck disable=SC2016 # $1 is the inner sh's
  for p in /sys/kernel/tracing/instances /sys/kernel/debug/dynamic_debug/control /proc/fs/cifs/cifsFYI \
    /proc/sys/sunrpc/nfs_debug /proc/sys/sunrpc/rpc_debug /var/lib/aod /var/log/aod /run/aod; do
    nsenter -t "$pid" -m -- sh -c 'if [ ! -e "$1" ]; then echo "$1 absent"; elif [ -w "$1" ]; then echo "$1 writable"; else echo "$1 read-only"; fi' sh "$p"
  done >"$RESULTS/sandbox-$1"
  # Readable and not emptied: kallsyms (the kprobe variant's symbols), DebugData
  # shellcheck disable=SC2016 # $1 is the inner sh's
  for p in /proc/kallsyms /proc/fs/cifs/DebugData /sys/kernel/debug/sunrpc; do
    nsenter -t "$pid" -m -- sh -c 'if [ ! -e "$1" ]; then echo "$1 absent"; elif [ -d "$1" ] && ls "$1" >/dev/null 2>&1; then echo "$1 readable"; elif [ -s "$1" ] || [ -n "$(head -c 64 "$1" 2>/dev/null)" ]; then echo "$1 readable"; else echo "$1 empty"; fi' sh "$p"
  done >>"$RESULTS/sandbox-$1"
}

# --- the machine ---------------------------------------------------------------
cat /proc/1/comm >"$RESULTS/pid1"
[[ $(cat "$RESULTS/pid1") == systemd ]] || die "PID 1 is $(cat "$RESULTS/pid1"), not systemd (run.sh boots systemd for '# vm-init: systemd')"
systemctl --version | head -n1 >"$RESULTS/systemd-version"
systemctl is-system-running >"$RESULTS/system-state" 2>&1
deb1=$(find "$PKGS/install" -name '*.deb' 2>/dev/null | head -n1)
deb2=$(find "$PKGS/upgrade" -name '*.deb' 2>/dev/null | head -n1)
[[ -f $deb1 && -f $deb2 ]] || die "no packages in $PKGS/{install,upgrade}: run scripts/vm/packages.sh on the host first (vm.test.ts does)"
v1=$(dpkg-deb -f "$deb1" Version) v2=$(dpkg-deb -f "$deb2" Version)
printf 'install %s\nupgrade %s\n' "$v1" "$v2" >"$RESULTS/versions"
dpkg-query -W aod >/dev/null 2>&1 && die "aod is already installed in the VM's root (the host's dpkg database lists it)"

# Azurite, the upload phase's Azure Blob: test/upload/azurite.ts's blob server
# (node), bundled into one file by vm.test.ts (.cache/vm/azurite/blob.cjs): the
# package's 1,400 modules take node 60-100 s to load over 9p under TCG, the
# bundle 10 s. Without the bundle, the package as it is.
BUN=$PROJECT/node_modules/.bin/bun
AZ_JS=$PROJECT/.cache/vm/azurite/blob.cjs
[[ -f $AZ_JS ]] || AZ_JS=$PROJECT/node_modules/azurite/dist/src/blob/main.js
AZ_LIB=$PROJECT/test/vm/scenarios/lib/azurite.ts
AZ_URL=http://127.0.0.1:10000/devstoreaccount1
AZ_PID=""
stop_azurite() {
  [[ -n $AZ_PID ]] || return 0
  kill -TERM "$AZ_PID" 2>/dev/null
  for _ in $(seq 1 20); do kill -0 "$AZ_PID" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$AZ_PID" 2>/dev/null
  wait "$AZ_PID" 2>/dev/null
  AZ_PID=""
}
trap 'tc qdisc del dev lo root 2>/dev/null; stop_azurite; true' EXIT

# As on a real boot, the service starts before the shares mount: cifs (which
# setup loaded for its mount) and sunrpc are not loaded when it starts.
umount "$SMB_MNT" || die "umount $SMB_MNT failed"
for _ in $(seq 1 40); do rmmod cifs 2>"$RESULTS/rmmod.err" && break; sleep 0.25; done
[[ -d /sys/module/cifs ]] && die "rmmod cifs failed for 10 s: $(cat "$RESULTS/rmmod.err")"
[[ -d /sys/module/sunrpc ]] && die "sunrpc is loaded before the service starts (the scenario wants it late)"

# --- install -----------------------------------------------------------------------
say "dpkg -i $(basename "$deb1")"
timeout 180 dpkg -i "$deb1" </dev/null >"$RESULTS/dpkg-install.log" 2>&1 || { cat "$RESULTS/dpkg-install.log"; die "dpkg -i $deb1 failed (124: timed out)"; }
grep -q '^aod: ' "$RESULTS/dpkg-install.log" && { cat "$RESULTS/dpkg-install.log"; die "the maintainer scripts complained"; }
systemctl is-enabled aod >"$RESULTS/is-enabled" 2>&1
wait_active 30 || die "aod.service is not active after dpkg -i ($(prop ActiveState)/$(prop SubState))"
wait_journal '"msg":"ready"' 90 || die "the service did not get ready"
systemctl is-active aod >"$RESULTS/is-active-install" 2>&1
props install
save_journal install
cp "$UNIT" "$RESULTS/aod.service"
sandbox install
ok install

# --- attach: the modules come --------------------------------------------------------
say "modprobe cifs, mount, modprobe sunrpc"
modprobe cifs || die "modprobe cifs failed"
mount -t cifs "$SMB_SHARE" "$SMB_MNT" -o "$SMB_OPTS" || die "mount -t cifs failed"
modprobe sunrpc || die "modprobe sunrpc failed"
wait_journal 'attached smbslower via' 30 || die "the service did not attach the SMB tools"
journal | grep -o 'cifs: attached smbslower via [a-z_]*' | head -n1 >"$RESULTS/attached"
say "  $(cat "$RESULTS/attached")"
# The ring waiter is a native thread compiled at start: the sandbox must allow it (else a Worker, ~8 MB more).
journal | grep -q 'native ring waiter unavailable' && die "the service fell back to a Worker ring waiter: $(journal | grep -m1 'native ring waiter')"
# Idle RSS attached to a real cifs, no traffic (issue 18): after the daemon settled (3 s after the attach).
sleep 6
awk '/^VmRSS:/ {print $2}' "/proc/$(prop MainPID)/status" >"$RESULTS/idle-rss-kb"
say "  idle RSS attached, no traffic: $(($(cat "$RESULTS/idle-rss-kb") / 1024)) MiB"
save_journal attach
sandbox late
ok attach

# --- config: edit + restart ----------------------------------------------------------
cp "$CONF" "$RESULTS/config-packaged.yaml"
cat >"$CONF" <<'YAML'
# aod VM 10-service: a low threshold, the verbose windows (kept across the upgrade).
watch_interval_sec: 5
aod_output_dir: /var/log/aod
guardian:
  anomalies:
    latency:
      type: Latency
      tool: smbslower
      mode: all
      acceptable_count: 5
      default_threshold_ms: 300
      max_latency_ms: 8000
      cooldown_sec: 120
      actions: [dmesg, journalctl, debugdata, stats, mounts, smbinfo, cifs_verbose, nfs_verbose]
flight_recorder:
  enabled: true
collection:
  verbose_sec: 3
audit:
  enabled: true
YAML
# Metrics on a unix socket in the service's RuntimeDirectory (writable in the
# packaged unit as it is), when this aod has them.
printf 'metrics:\n  listen: /run/aod/metrics.sock\n' >"$RESULTS/metrics-section.yaml"
cat "$CONF" "$RESULTS/metrics-section.yaml" >"$RESULTS/metrics-probe.yaml"
if aod config validate "$RESULTS/metrics-probe.yaml" >"$RESULTS/metrics-validate" 2>&1; then
  cp "$RESULTS/metrics-probe.yaml" "$CONF"
  METRICS=1
else
  METRICS=0
fi
cp "$CONF" "$RESULTS/config.yaml"
aod config validate "$CONF" >"$RESULTS/config-validate" 2>&1 || die "aod config validate: $(cat "$RESULTS/config-validate")"
say "systemctl restart aod"
systemctl restart aod || die "systemctl restart aod failed"
wait_active 30 || die "aod.service is not active after the restart"
wait_journal '"msg":"ready"' 90 || die "the service did not get ready with the edited config"
wait_journal 'attached smbslower via' 30 || die "the restarted service did not attach the SMB tools"
props config
save_journal config
sandbox config
ok config

# --- recorder ----------------------------------------------------------------------
wait_journal '"msg":"flight recorder ready"' 10 || die "the service's flight recorder is not ready"
ls "$INSTANCES" >"$RESULTS/instances-running"
grep -qx aod "$RESULTS/instances-running" || die "no tracefs instance aod while the service runs"
ok recorder

# --- bundle ------------------------------------------------------------------------
mkdir -p "$SMB_MNT/svc"
echo before >"$SMB_MNT/svc/before"; sync
for _ in $(seq 1 4); do ls "$SMB_MNT/svc" >/dev/null; cat "$SMB_MNT/svc/before" >/dev/null; sleep 0.5; done
sleep 1.5 # cifs defers closes (closetimeo 1 s): let them land before the slow phase
marker="aod-vm-marker-10-service-$RANDOM"
echo "$marker" >"$RESULTS/marker"
echo "$marker" >/dev/kmsg
say "netem delay 200ms, 5 small files"
date +%s%N >"$RESULTS/phase-slow.ns"
tc qdisc add dev lo root netem delay 200ms || die "tc netem failed"
for i in $(seq 1 5); do echo "slow-$i" >"$SMB_MNT/svc/f$i"; done
wait_journal '"msg":"bundle written".*"anomaly":"latency"' 60 || die "the service wrote no latency bundle"
tc qdisc del dev lo root
bpath=$(journal | grep -m1 '"msg":"bundle written"' | sed -n 's/.*"path":"\([^"]*\)".*/\1/p')
[[ $bpath == "$OUT"/batches/aod_quick_*.tar.zst && -f $bpath ]] || die "the bundle written is not in $OUT/batches: '$bpath'"
# The journal entry (with _PID, _SYSTEMD_UNIT) of that line.
journalctl --no-pager -u aod -o json _SYSTEMD_INVOCATION_ID="$(prop InvocationID)" | grep -m1 'bundle written' >"$RESULTS/bundle-journal.json"
stat -c '%a %U %n' "$OUT" "$OUT/batches" "$bpath" >"$RESULTS/bundle-stat"
ls -l /var/lib/aod >"$RESULTS/state-dir" 2>&1
journalctl --no-pager -o cat -g 'AOD detected anomaly' >"$RESULTS/audit-journal" 2>&1
mkdir -p "$RESULTS/bundles"
for f in "$OUT"/batches/aod_quick_*.tar.zst; do
  b=$RESULTS/bundles/$(basename "$f" .tar.zst)
  mkdir -p "$b"
  zstd -dcq "$f" | tar -t >"$b/members" || die "cannot list $f"
  zstd -dcq "$f" | tar -x -C "$b" || die "cannot unpack $f"
done
aod bundles --config "$CONF" --json >"$RESULTS/bundles.json" 2>"$RESULTS/bundles.stderr" || die "aod bundles: $(cat "$RESULTS/bundles.stderr")"
aod bundles show "$bpath" --config "$CONF" --json >"$RESULTS/bundles/$(basename "$bpath" .tar.zst)/show.json" 2>"$RESULTS/bundles/show.stderr" ||
  die "aod bundles show: $(cat "$RESULTS/bundles/show.stderr")"
props bundle
save_journal bundle
rm -rf "$SMB_MNT/svc"
ok bundle

# --- security ------------------------------------------------------------------------
systemd-analyze security --no-pager aod.service >"$RESULTS/security.txt" 2>&1 || die "systemd-analyze security failed: $(tail -n 3 "$RESULTS/security.txt")"
level=$(sed -n 's/.*Overall exposure level for aod.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' "$RESULTS/security.txt")
echo "$level" >"$RESULTS/security-level"
say "  exposure $level"
case ${level#* } in PERFECT | SAFE | OK) ;; *) die "systemd-analyze security: exposure '$level', not OK or better" ;; esac
ok security

# --- reload (when the unit has ExecReload) --------------------------------------------
if ! grep -q '^ExecReload=' "$UNIT"; then
  skip reload "the packaged unit has no ExecReload (this aod has no SIGHUP reload)"
else
  pid=$(prop MainPID)
  cp "$CONF" "$RESULTS/reload-good.yaml"
  { cat "$RESULTS/reload-good.yaml"; echo "not_a_key_10_service: 1"; } >"$CONF"
  say "systemctl reload aod (a bad config)"
  systemctl reload aod >"$RESULTS/reload-bad.out" 2>&1 || say "  systemctl reload exited $? (bad config)"
  wait_journal 'not_a_key_10_service' 20 || die "the bad config's problem was not logged after systemctl reload"
  sleep 1
  systemctl -q is-active aod || die "the service stopped after reloading a bad config"
  [[ $(prop MainPID) == "$pid" ]] || die "MainPID changed ($pid -> $(prop MainPID)) after reloading a bad config"
  journal | grep 'not_a_key_10_service' >"$RESULTS/reload-bad.log"
  before=$(journal | grep -i reload | grep -vic fail)
  cp "$RESULTS/reload-good.yaml" "$CONF"
  say "systemctl reload aod (the good config)"
  systemctl reload aod >"$RESULTS/reload-good.out" 2>&1 || die "systemctl reload aod (good config) failed: $(cat "$RESULTS/reload-good.out")"
  end=$((SECONDS + 20))
  # a reload line that is not a failure
  while (($(journal | grep -i reload | grep -vic fail) <= before)) && ((SECONDS < end)); do sleep 0.5; done
  (($(journal | grep -i reload | grep -vic fail) > before)) || die "no reload line (but failures) in the journal after reloading the good config"
  systemctl -q is-active aod || die "the service stopped after reloading the good config"
  [[ $(prop MainPID) == "$pid" ]] || die "MainPID changed after reloading the good config"
  journal | grep -i reload | grep -vi fail >"$RESULTS/reload.log"
  echo "$pid" >"$RESULTS/reload-pid"
  props reload
  ok reload
fi

# --- metrics (when the config took a metrics section) ---------------------------------
# scrape NAME URL [curl args]: /metrics to metrics-NAME.{txt,headers,err}, retried for 10 s
scrape() {
  local name=$1 url=$2 i
  shift 2
  for i in $(seq 1 20); do
    curl -sS --fail --max-time 20 "$@" -D "$RESULTS/metrics-$name.headers" "$url" \
      >"$RESULTS/metrics-$name.txt" 2>"$RESULTS/metrics-$name.err" && return 0
    sleep 0.5
  done
  return 1
}
if ((!METRICS)); then
  skip metrics "aod config validate rejects a metrics section: $(grep -m1 -i metrics "$RESULTS/metrics-validate" | sed 's/^ *//')"
else
  scrape unix http://localhost/metrics --unix-socket /run/aod/metrics.sock ||
    die "no /metrics on /run/aod/metrics.sock: $(cat "$RESULTS/metrics-unix.err"); journal: $(journal | grep -i metric | tail -n 3)"
  # 127.0.0.1:9469. The packaged unit is made for the default config; a TCP
  # listener needs its address family and address let in: the drop-in
  # README gives (`systemctl edit aod`), when the unit lacks them. Both stay
  # for the upgrade.
  grep -v '^  listen:' "$CONF" | sed 's|^metrics:$|metrics:\n  listen: 127.0.0.1:9469|' >"$RESULTS/config-metrics-tcp.yaml"
  cp "$RESULTS/config-metrics-tcp.yaml" "$CONF"
  if grep -q '^RestrictAddressFamilies=.*AF_INET' "$UNIT"; then
    echo "unit" >"$RESULTS/metrics-tcp-how"
  else
    mkdir -p /etc/systemd/system/aod.service.d
    printf '[Service]\nRestrictAddressFamilies=AF_INET AF_INET6\nIPAddressAllow=localhost\n' >/etc/systemd/system/aod.service.d/metrics.conf
    systemctl daemon-reload
    echo "drop-in" >"$RESULTS/metrics-tcp-how"
  fi
  say "metrics on 127.0.0.1:9469 ($(cat "$RESULTS/metrics-tcp-how")): systemctl restart aod"
  systemctl restart aod || die "systemctl restart aod (metrics tcp) failed"
  wait_active 30 || die "aod.service is not active with metrics on 127.0.0.1:9469"
  wait_journal '"msg":"ready"' 90 || die "the service did not get ready with metrics on 127.0.0.1:9469"
  scrape tcp http://127.0.0.1:9469/metrics ||
    die "no /metrics on 127.0.0.1:9469: $(cat "$RESULTS/metrics-tcp.err"); journal: $(journal | grep -i metric | tail -n 3)"
  save_journal metrics
  ok metrics
fi

# --- upload (when this aod takes an `upload:` section; node and Azurite here) ---------
# Azurite's blob server in the guest (node, as test/upload/azurite.ts runs it), a
# container SAS in a root-only file, README's drop-in for the packaged unit (alone:
# the metrics drop-in is moved aside meanwhile), then the service uploads what was
# there before (the start-up rescan) and a snapshot it is asked for. Azurite stays
# up for the upgrade (which must upload nothing again) and stops before remove.
DROPINS=/etc/systemd/system/aod.service.d
# status_count STATE: bundles in that state for the target (upload status --json)
status_count() { jq -r --arg s "$1" '[.targets[].counts[$s].bundles] | add // 0' "$RESULTS/upload-status.json"; }
local_bundles() { find "$OUT/batches" -maxdepth 1 -name 'aod_quick_*.tar.zst' -printf '%f\n' | sort; }
# wait_uploaded COUNT SECONDS: until COUNT "uploaded bundle" lines in the current
# invocation's journal; fails at once when the upload breaker opens
wait_uploaded() {
  local end=$((SECONDS + $2))
  while (($(journal | grep -c '"msg":"uploaded bundle"') < $1)); do
    journal | grep -q 'upload breaker open' && { say "the upload breaker opened"; return 1; }
    systemctl -q is-active aod || { say "aod.service is $(prop ActiveState) while waiting for uploads"; return 1; }
    ((SECONDS < end)) || { say "timed out after $2 s waiting for $1 uploaded bundle(s)"; return 1; }
    sleep 0.5
  done
}
printf 'upload:\n  target: azure_blob\n  account_url: %s\n  container: aod\n  auth: sas\n  sas_token_file: /etc/aod/sas\n' \
  "$AZ_URL" >"$RESULTS/upload-section.yaml"
cat "$CONF" "$RESULTS/upload-section.yaml" >"$RESULTS/upload-probe.yaml"
why=""
if ! aod config validate "$RESULTS/upload-probe.yaml" >"$RESULTS/upload-config-validate" 2>&1; then
  why="aod config validate rejects an upload section: $(grep -m1 -i upload "$RESULTS/upload-config-validate" | sed 's/^ *//')"
elif ! command -v node >/dev/null; then
  why="node is not installed (Azurite runs on Node)"
elif [[ ! -f $AZ_JS ]]; then
  why="npm package azurite is not installed in $PROJECT (npm ci)"
elif [[ ! -x $BUN ]]; then
  why="no $BUN (npm ci)"
fi
if [[ -n $why ]]; then
  skip upload "$why"
else
  local_bundles >"$RESULTS/upload-before.txt"
  [[ -s $RESULTS/upload-before.txt ]] || die "no bundle in $OUT/batches before upload is configured"
  echo "${AZ_JS#"$PROJECT"/}" >"$RESULTS/upload-azurite-js"
  az_t0=$SECONDS
  node "$AZ_JS" --blobHost 127.0.0.1 --blobPort 10000 -l "$(mktemp -d /tmp/azurite.XXXXXX)" --disableTelemetry \
    >"$RESULTS/upload-azurite.log" 2>&1 &
  AZ_PID=$!
  end=$((SECONDS + 150))
  until grep -q 'successfully listens on' "$RESULTS/upload-azurite.log"; do
    kill -0 "$AZ_PID" 2>/dev/null || die "azurite exited: $(tail -n 5 "$RESULTS/upload-azurite.log")"
    ((SECONDS < end)) || die "azurite ($AZ_JS) did not listen within 150 s: $(tail -n 5 "$RESULTS/upload-azurite.log")"
    sleep 0.25
  done
  echo $((SECONDS - az_t0)) >"$RESULTS/upload-azurite-start-seconds"
  say "azurite ($(cat "$RESULTS/upload-azurite-js"), node $(node --version)) on 127.0.0.1:10000 in $((SECONDS - az_t0)) s; container aod"
  "$BUN" "$AZ_LIB" create "$AZ_URL" aod >"$RESULTS/upload-azurite-create.err" 2>&1 || die "creating the container: $(cat "$RESULTS/upload-azurite-create.err")"
  "$BUN" "$AZ_LIB" sas aod | install -m 600 -o root -g root /dev/stdin /etc/aod/sas || die "writing /etc/aod/sas failed"
  [[ -s /etc/aod/sas ]] || die "/etc/aod/sas is empty"
  stat -c '%a %U %G' /etc/aod/sas >"$RESULTS/upload-sas-stat"
  cp "$RESULTS/upload-probe.yaml" "$CONF"
  cp "$CONF" "$RESULTS/config-upload.yaml"
  aod config validate "$CONF" >"$RESULTS/upload-config-validate" 2>&1 || die "aod config validate: $(cat "$RESULTS/upload-config-validate")"
  # README's first step, as root, outside the service: it writes and reads back a probe object.
  aod upload validate >"$RESULTS/upload-validate.txt" 2>&1 || die "aod upload validate failed: $(cat "$RESULTS/upload-validate.txt")"
  say "  $(tail -n 1 "$RESULTS/upload-validate.txt")"
  # README's drop-in for the packaged unit, on its own (no metrics.conf meanwhile).
  mkdir -p "$DROPINS"
  [[ -f $DROPINS/metrics.conf ]] && mv "$DROPINS/metrics.conf" /run/aod-vm-metrics.conf
  printf '[Service]\nRestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6\nIPAddressAllow=any\n' >"$DROPINS/upload.conf"
  cp "$DROPINS/upload.conf" "$RESULTS/upload-dropin.conf"
  systemctl daemon-reload
  say "upload to azurite (drop-in upload.conf): systemctl restart aod"
  systemctl restart aod || die "systemctl restart aod (upload) failed"
  wait_active 30 || die "aod.service is not active with upload configured"
  wait_journal '"msg":"ready"' 90 || die "the service did not get ready with upload configured"
  systemctl show aod -p DropInPaths -p RestrictAddressFamilies -p IPAddressAllow -p IPAddressDeny >"$RESULTS/upload-unit-props"
  props upload
  # The start-up rescan: the bundles written before upload was configured.
  wait_uploaded "$(wc -l <"$RESULTS/upload-before.txt")" 60 ||
    die "the service did not upload the $(wc -l <"$RESULTS/upload-before.txt") earlier bundle(s): $(journal | grep -i upload | tail -n 3)"
  # A new one: a snapshot the running service collects.
  timeout 150 aod snapshot --timeout 120 >"$RESULTS/upload-snapshot.path" 2>"$RESULTS/upload-snapshot.err" ||
    die "aod snapshot failed: $(cat "$RESULTS/upload-snapshot.err")"
  say "  snapshot $(cat "$RESULTS/upload-snapshot.path")"
  # Until the state says every local bundle is uploaded (bundle and sidecar confirmed).
  end=$((SECONDS + 60))
  while :; do
    aod upload status --json >"$RESULTS/upload-status.json" 2>"$RESULTS/upload-status.err" || die "aod upload status: $(cat "$RESULTS/upload-status.err")"
    n=$(local_bundles | wc -l)
    (($(status_count uploaded) == n && $(status_count queued) + $(status_count uploading) == 0)) && break
    [[ $(jq -r '[.targets[].breaker] | join(" ")' "$RESULTS/upload-status.json") == closed ]] ||
      die "the upload breaker is not closed: $(jq -c '.targets[] | {breaker, last_error}' "$RESULTS/upload-status.json")"
    ((SECONDS < end)) || die "not every bundle uploaded within 60 s: $(jq -c '.targets[] | {counts, waiting, last_error}' "$RESULTS/upload-status.json")"
    sleep 1
  done
  aod upload status >"$RESULTS/upload-status.txt" 2>&1
  local_bundles >"$RESULTS/upload-local.txt"
  # What Azurite holds: every blob, its sha256 and metadata; the sidecars themselves.
  "$BUN" "$AZ_LIB" dump "$AZ_URL" aod "$RESULTS/upload-blobs.json" "$RESULTS/upload-sidecars" 2>"$RESULTS/upload-dump.err" ||
    die "reading the blobs back: $(cat "$RESULTS/upload-dump.err")"
  # Each local bundle: its sha256, its own manifest.json, `aod bundles verify`; beside the blob and its sidecar.
  mkdir -p "$RESULTS/upload-local"
  : >"$RESULTS/upload-local.jsonl"
  while read -r name; do
    f=$OUT/batches/$name
    sha=$(sha256sum "$f" | cut -d' ' -f1)
    zstd -dcq "$f" | tar -xO manifest.json >"$RESULTS/upload-local/$name.manifest.json" || die "no manifest.json in $name"
    aod bundles verify "$f" --json </dev/null >"$RESULTS/upload-local/$name.verify.json" 2>&1 || die "aod bundles verify $name: $(cat "$RESULTS/upload-local/$name.verify.json")"
    jq -n --arg name "$name" --arg sha "$sha" --argjson size "$(stat -c %s "$f")" \
      --slurpfile verify "$RESULTS/upload-local/$name.verify.json" --slurpfile manifest "$RESULTS/upload-local/$name.manifest.json" \
      '{name: $name, sha256: $sha, size: $size, verify: $verify[0], manifest: $manifest[0]}' >>"$RESULTS/upload-local.jsonl"
    blob=$(jq -c --arg n "/$name" '[.[] | select(.name | endswith($n))]' "$RESULTS/upload-blobs.json")
    side=$(jq -c --arg n "/$name.manifest.json" '[.[] | select(.name | endswith($n))]' "$RESULTS/upload-blobs.json")
    [[ $(jq length <<<"$blob") == 1 && $(jq length <<<"$side") == 1 ]] || die "$name: $(jq length <<<"$blob") blob(s) and $(jq length <<<"$side") sidecar(s) in azurite, not 1 and 1"
    [[ $(jq -r '.[0].sha256' <<<"$blob") == "$sha" ]] || die "$name: the blob's sha256 $(jq -r '.[0].sha256' <<<"$blob") is not the local file's $sha"
    [[ $(jq -r '.[0].sidecar.sha256' <<<"$side") == "$sha" ]] || die "$name: the sidecar's sha256 $(jq -r '.[0].sidecar.sha256' <<<"$side") is not the local file's $sha"
    [[ $(jq -S '.[0].sidecar.manifest' <<<"$side") == "$(jq -S . "$RESULTS/upload-local/$name.manifest.json")" ]] || die "$name: the sidecar's manifest is not the bundle's manifest.json"
    [[ $(jq '.[0].sidecar.manifest.members | length' <<<"$side") == "$(jq .members "$RESULTS/upload-local/$name.verify.json")" ]] ||
      die "$name: the sidecar lists $(jq '.[0].sidecar.manifest.members | length' <<<"$side") members, aod bundles verify checked $(jq .members "$RESULTS/upload-local/$name.verify.json")"
  done <"$RESULTS/upload-local.txt"
  jq -s . "$RESULTS/upload-local.jsonl" >"$RESULTS/upload-local.json"
  if grep -qx 'metrics ok' "$PHASES"; then
    scrape upload http://127.0.0.1:9469/metrics || die "no /metrics on 127.0.0.1:9469 with upload: $(cat "$RESULTS/metrics-upload.err")"
  fi
  save_journal upload
  journal | grep -q 'upload breaker open' && die "the upload breaker opened: $(journal | grep 'upload breaker open' | head -n 1)"
  # metrics.conf back for the upgrade (upload.conf, the upload section and Azurite stay).
  [[ -f /run/aod-vm-metrics.conf ]] && mv /run/aod-vm-metrics.conf "$DROPINS/metrics.conf" && systemctl daemon-reload
  say "  $(status_count uploaded) bundles uploaded: $(tr '\n' ' ' <"$RESULTS/upload-local.txt")"
  ok upload
fi

# --- upgrade -------------------------------------------------------------------------
props before-upgrade
sha256sum "$CONF" >"$RESULTS/config-before-upgrade.sha256"
say "dpkg -i $(basename "$deb2")"
timeout 180 dpkg -i "$deb2" </dev/null >"$RESULTS/dpkg-upgrade.log" 2>&1 || { cat "$RESULTS/dpkg-upgrade.log"; die "dpkg -i $deb2 (upgrade) failed (124: timed out)"; }
grep -q '^aod: ' "$RESULTS/dpkg-upgrade.log" && { cat "$RESULTS/dpkg-upgrade.log"; die "the maintainer scripts complained"; }
dpkg-query -W -f '${Version}\n' aod >"$RESULTS/version-after-upgrade"
sha256sum "$CONF" >"$RESULTS/config-after-upgrade.sha256"
cp "$CONF" "$RESULTS/config-after-upgrade.yaml"
wait_active 30 || die "aod.service is not active after the upgrade"
wait_journal 'attached smbslower via' 90 || die "the upgraded service did not attach the SMB tools"
if grep -qx 'metrics ok' "$PHASES"; then
  scrape upgrade http://127.0.0.1:9469/metrics || die "no /metrics on 127.0.0.1:9469 after the upgrade: $(cat "$RESULTS/metrics-upgrade.err")"
fi
# The upgraded service keeps the upload state: its lane starts with nothing queued, nothing goes twice.
if grep -qx 'upload ok' "$PHASES"; then
  wait_journal '"msg":"upload on"' 30 || die "the upgraded service did not start its upload lane"
  aod upload status --json >"$RESULTS/upload-status-upgrade.json" 2>&1 || die "aod upload status after the upgrade: $(cat "$RESULTS/upload-status-upgrade.json")"
fi
props upgrade
save_journal upgrade
ok upgrade

# --- remove --------------------------------------------------------------------------
stop_azurite
say "dpkg -r aod"
timeout 120 dpkg -r aod </dev/null >"$RESULTS/dpkg-remove.log" 2>&1 || { cat "$RESULTS/dpkg-remove.log"; ps axf >"$RESULTS/ps-at-failure"; die "dpkg -r aod failed (124: timed out)"; }
systemctl is-active aod >"$RESULTS/is-active-remove" 2>&1
props remove
ls "$INSTANCES" >"$RESULTS/instances-after-remove"
[[ -f $UNIT ]] && echo present >"$RESULTS/unit-after-remove" || echo absent >"$RESULTS/unit-after-remove"
[[ -f $CONF ]] && echo present >"$RESULTS/config-after-remove" || echo absent >"$RESULTS/config-after-remove"
ok remove

tail -n 12 /var/log/dpkg.log >"$RESULTS/dpkg.log" 2>/dev/null
cat "$PHASES"
echo "$SECONDS" >"$RESULTS/guest-seconds"
exit 0
