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
#   upgrade   dpkg -i a higher version of the same binary: the config is kept
#             (a conffile), the service restarted (new MainPID, InvocationID,
#             later ActiveEnterTimestamp), active, attached again (and
#             /metrics served again when the metrics phase ran)
#   remove    dpkg -r: stopped, the unit gone, the config kept, no tracefs
#             instance left
# sandbox-<step>: what the service's mount namespace (nsenter) lets it write
# and read, after install (modules not loaded yet), after attach (loaded
# after the service started) and after the config restart (loaded before).
# Writes (cwd = $RESULTS) what vm.test.ts asserts: phases, timings, pid1,
# versions, dpkg-*.log, dpkg.log, props-<step> (systemctl show),
# journal-<step>.log (that invocation's journal), sandbox-<step>,
# bundle-journal.json, bundles/, bundles.json, security.txt, marker,
# metrics-*, reload-*.
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
trap 'tc qdisc del dev lo root 2>/dev/null; true' EXIT

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
props upgrade
save_journal upgrade
ok upgrade

# --- remove --------------------------------------------------------------------------
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
