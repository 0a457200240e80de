#!/usr/bin/env bash
# run.sh KERNEL SCENARIO [ARGS...] — boot one qemu VM, run a guest scenario.
#
#   KERNEL    "" / default / 6.1 / 6.12 / 6.1.0-56-amd64  (see prepare.sh)
#   SCENARIO  name (01-check, 01-check.sh) under test/vm/scenarios/, or a path
#             inside the repository
#   ARGS      passed to the scenario (one per line in results/.vm/args)
#
# Inside the guest the scenario runs as root with cwd /results, after
# scripts/vm/guest/setup.sh (set VM_SETUP=0 to skip), with the repository at
# /project (rw) and $RESULTS=/results (rw) shared from the host over 9p.
#
# Environment:
#   VM_RESULTS  host results dir (default .cache/vm/results/<kver>/<scenario>,
#               wiped first). Console log: $VM_RESULTS/.vm/console.log
#   VM_TIMEOUT  watchdog seconds for the whole VM (default 600)
#   VM_ACCEL    auto (default) | tcg | kvm. auto uses KVM only when /dev/kvm is
#               usable and is not the PVM hypervisor (kvm_pvm), else TCG.
#   VM_KVM_BOOT_TIMEOUT  seconds KVM gets to reach /init before falling
#               back to TCG (default 60)
#   VM_MEM / VM_SMP  (default 2G / 2)     VM_TAIL  console lines on failure (80)
#   VM_INIT     sh | systemd: what runs the scenario. sh (default) = guest/init
#               itself; systemd = the host's /lib/systemd/systemd boots as PID 1
#               and runs it as aod-vm-scenario.service. Default: systemd when
#               the scenario has a line `# vm-init: systemd`, else sh.
#   V=1         verbose: stream the console, show setup output
#
# Exit code: the scenario's exit code; 124 = watchdog timeout; 125 = harness
# or guest setup failure (message says which step); 2 = usage.
#
#   run.sh --can-run   exit 0 if qemu can run here, else print why and exit 3.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
QEMU=${QEMU:-qemu-system-x86_64}
V=${V:-0}

say() { [[ "$V" == 1 ]] && echo "vm: $*" >&2 || true; }
die() { echo "vm: ERROR: $1" >&2; exit "${2:-125}"; }

can_run() {
  command -v "$QEMU" >/dev/null 2>&1 || { echo "$QEMU not installed (run scripts/vm/deps.sh)"; return 3; }
  "$QEMU" --version >/dev/null 2>&1 || { echo "$QEMU does not run on this host"; return 3; }
  "$QEMU" -accel help 2>/dev/null | grep -qx tcg || { echo "$QEMU has no TCG accelerator"; return 3; }
  "$QEMU" -device help 2>/dev/null | grep -q virtio-9p-pci || { echo "$QEMU lacks virtio-9p-pci (virtfs)"; return 3; }
  return 0
}

if [[ "${1:-}" == --can-run ]]; then
  why=$(can_run) && exit 0
  echo "$why"; exit 3
fi

(($# >= 2)) || { sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
KSPEC=$1; SCEN=$2; shift 2

why=$(can_run) || die "qemu cannot run: $why"

# The guest runs the host's binaries (host / is its root): check them now
# rather than failing inside the VM.
if [[ "${VM_SETUP:-1}" != 0 ]]; then
  miss=()
  for b in smbd smbpasswd testparm mount.cifs useradd ip ss tc modprobe bash; do
    PATH=$PATH:/usr/sbin:/sbin command -v "$b" >/dev/null 2>&1 || miss+=("$b")
  done
  ((${#miss[@]} == 0)) || die "host lacks ${miss[*]} (needed inside the VM) — run scripts/vm/deps.sh"
fi

# --- kernel + initramfs -------------------------------------------------------
dir=$("$HERE/prepare.sh" "$KSPEC") || die "preparing kernel '${KSPEC:-default}' failed (see above)"
dir=$(realpath "$dir")
kver=$(cat "$dir/.kver")
[[ $dir != *[[:space:]]* ]] || die "cache path '$dir' contains whitespace; set VM_CACHE to a path without spaces"

# --- scenario -------------------------------------------------------------------
case $SCEN in
  */*) spath=$(realpath "$SCEN" 2>/dev/null || true) ;;
  *)   s=${SCEN%.sh}; spath=$ROOT/test/vm/scenarios/$s.sh ;;
esac
[[ -n $spath && -f $spath ]] || die "scenario '$SCEN' not found (looked in $ROOT/test/vm/scenarios/)" 2
[[ $spath == "$ROOT"/* ]] || die "scenario $spath must live inside $ROOT (shared as /project)" 2
gscen=/project/${spath#"$ROOT"/}
sname=$(basename "$spath" .sh)
init=${VM_INIT:-}
if [[ -z $init ]]; then
  init="sh"
  grep -qx '# vm-init: systemd' "$spath" && init=systemd
fi
[[ $init == sh || $init == systemd ]] || die "VM_INIT must be sh or systemd (got '$init')" 2
if [[ $init == systemd && ! -x /lib/systemd/systemd ]]; then
  die "scenario $sname boots systemd, but the host has no /lib/systemd/systemd (apt-get install systemd)"
fi

# --- results dir -----------------------------------------------------------------
if [[ -n ${VM_RESULTS:-} ]]; then
  # Start empty, so a scenario can never pass on an earlier run's files; wipe
  # only inside the project's cache (never a directory a user named elsewhere).
  res=$VM_RESULTS; mkdir -p "$res"
  case $(realpath "$res") in
    "$ROOT"/.cache/*) find "$res" -mindepth 1 -delete ;;
    *) rm -rf "$res/.vm" ;;
  esac
else
  res=$ROOT/.cache/vm/results/$kver/$sname; rm -rf "$res"; mkdir -p "$res"
fi
res=$(realpath "$res")
mkdir -p "$res/.vm"
: >"$res/.vm/args"
for a in "$@"; do
  [[ $a != *$'\n'* ]] || die "scenario arguments must not contain newlines" 2
  printf '%s\n' "$a" >>"$res/.vm/args"
done
log=$res/.vm/console.log
: >"$log"

# --- accelerator -------------------------------------------------------------------
# /dev/kvm may be the PVM hypervisor (kvm_pvm), under which ordinary guest
# kernels hang instead of failing: use TCG there. Elsewhere try KVM, guarded
# by a boot watchdog that falls back to TCG.
accel=${VM_ACCEL:-auto}
if [[ $accel == auto ]]; then
  accel=tcg
  if [[ -r /dev/kvm && -w /dev/kvm && ! -d /sys/module/kvm_pvm ]]; then accel=kvm; fi
fi
[[ $accel == tcg || $accel == kvm ]] || die "VM_ACCEL must be auto, tcg or kvm (got '$accel')" 2

quiet=quiet; [[ "$V" == 1 ]] && quiet=""
append="console=ttyS0 panic=-1 $quiet rdinit=/init VM_KVER=$kver VM_MODDIR=$dir/root VM_SCENARIO=$gscen VM_SETUP=${VM_SETUP:-1} VM_V=$V"
# Under systemd the guest stops a scenario 60 s before the watchdog kills the
# VM, after saving what runs and the journal (.vm/hang-*, .vm/journal.log).
if [[ $init == systemd ]]; then
  append+=" VM_INIT=systemd"
  guest_timeout=$((${VM_TIMEOUT:-600} - 60))
  ((guest_timeout < 60)) || append+=" VM_GUEST_TIMEOUT=$guest_timeout"
fi

fs() { # id path tag ro
  local ro=""; [[ $4 == 1 ]] && ro=",readonly=on"
  echo "-fsdev local,id=$1,path=$2,security_model=none,multidevs=remap$ro -device virtio-9p-pci,fsdev=$1,mount_tag=$3"
}

timeout_s=${VM_TIMEOUT:-600}
kvm_boot_s=${VM_KVM_BOOT_TIMEOUT:-60}

# boot ACCEL: run qemu under the watchdog; sets qrc (124 = timeout,
# 200 = KVM boot watchdog fired).
boot() {
  local a=$1 accel_args qpid i
  case $a in
    tcg) accel_args=(-accel tcg,thread=multi,tb-size=512 -cpu max) ;;  # -cpu max: AVX2 for Bun
    kvm) accel_args=(-accel kvm -cpu host) ;;
  esac
  # shellcheck disable=SC2207
  qemu_args=(
    -nodefaults -no-user-config -display none -monitor none -no-reboot
    -machine pc "${accel_args[@]}" -m "${VM_MEM:-2G}" -smp "${VM_SMP:-2}"
    -kernel "$dir/vmlinux" -initrd "$dir/initrd.img" -append "$append"
    -serial "file:$log" -nic none
    $(fs fsroot / hostroot 1) $(fs fsproj "$ROOT" project 0) $(fs fsres "$res" results 0)
  )
  say "kernel $kver ($a), scenario $sname (init: $init), results $res"
  say "${QEMU} ${qemu_args[*]}"
  : >"$log"; rm -f "$res/.vm/rc" "$res/.vm/fatal"
  # (subshell with stderr to /dev/null: keeps bash's "Aborted" job notice quiet)
  ( timeout -k 10 "$timeout_s" "$QEMU" "${qemu_args[@]}" >"$res/.vm/qemu.log" 2>&1; exit $? ) 2>/dev/null &
  qpid=$!
  if [[ $a == kvm ]]; then
    for ((i = 0; i < kvm_boot_s * 10; i++)); do
      kill -0 "$qpid" 2>/dev/null || break
      grep -q 'vm/init:' "$log" 2>/dev/null && break
      sleep 0.1
    done
    if kill -0 "$qpid" 2>/dev/null && ! grep -q 'vm/init:' "$log" 2>/dev/null; then
      kill -TERM "$qpid" 2>/dev/null || true
      { wait "$qpid"; } 2>/dev/null || true
      qrc=200; return
    fi
  fi
  set +e; { wait "$qpid"; } 2>/dev/null; qrc=$?; set -e
  # KVM that failed before the guest reached /init (e.g. qemu aborting on MSRs
  # it cannot set): treat like a hang and let the caller fall back to TCG.
  if [[ $a == kvm ]] && ! grep -q 'vm/init:' "$log" 2>/dev/null; then qrc=200; fi
}

tailpid=""
if [[ "$V" == 1 ]]; then tail -n +1 -F "$log" 2>/dev/null & tailpid=$!; fi
start=$(date +%s.%N)
boot "$accel"
if ((qrc == 200)); then
  echo "vm: KVM guest did not reach /init (hung ${kvm_boot_s}s = VM_KVM_BOOT_TIMEOUT, or qemu failed: $(tail -n 1 "$res/.vm/qemu.log" 2>/dev/null)); retrying with TCG (VM_ACCEL=tcg skips KVM)" >&2
  cp "$log" "$res/.vm/console-kvm.log" 2>/dev/null || true
  cp "$res/.vm/qemu.log" "$res/.vm/qemu-kvm.log" 2>/dev/null || true
  accel=tcg; start=$(date +%s.%N)
  boot tcg
fi
# A guest kernel that panics before /init (seen once in CI: 6.12 under
# multi-threaded TCG, "Fatal exception in interrupt" at 1.8 s) is the
# emulator's flake, not the scenario's result: boot once more, keeping the
# first console for the record.
if ((qrc != 124 && qrc != 137)) && ! grep -q 'vm/init:' "$log" 2>/dev/null && grep -q 'Kernel panic' "$log" 2>/dev/null; then
  echo "vm: guest kernel panicked before /init ($(grep -m1 'Kernel panic' "$log" | tr -d '\r')); booting once more (first console: $res/.vm/console-panic.log)" >&2
  cp "$log" "$res/.vm/console-panic.log" 2>/dev/null || true
  start=$(date +%s.%N)
  boot "$accel"
fi
end=$(date +%s.%N)
[[ -n $tailpid ]] && { sleep 0.3; kill "$tailpid" 2>/dev/null; wait "$tailpid" 2>/dev/null || true; }
secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
echo "$secs" >"$res/.vm/seconds"
say "qemu exited $qrc after ${secs}s"

show_console() {
  echo "vm: ---- last ${VM_TAIL:-80} lines of guest console ($log) ----" >&2
  tail -n "${VM_TAIL:-80}" "$log" | tr -d '\r' >&2
  if [[ -s $res/.vm/qemu.log ]]; then echo "vm: ---- qemu stderr ----" >&2; tail -n 20 "$res/.vm/qemu.log" >&2; fi
  echo "vm: ---- end ----" >&2
}

if ((qrc == 124 || qrc == 137)); then
  show_console
  hint=""
  [[ $accel == kvm ]] && hint=" (KVM guest may hang under some hypervisors; retry with VM_ACCEL=tcg)"
  grep -q 'vm/init' "$log" || hint="$hint; the guest never reached /init (kernel boot problem)"
  die "watchdog: VM did not finish within ${timeout_s}s (VM_TIMEOUT)$hint" 124
fi
if [[ ! -s $res/.vm/rc ]]; then
  show_console
  if [[ -s $res/.vm/fatal ]]; then die "guest init failed: $(cat "$res/.vm/fatal")"; fi
  die "VM exited (qemu rc $qrc) without reporting a scenario exit code — see console above"
fi
rc=$(cat "$res/.vm/rc")
if [[ $rc != 0 ]]; then
  show_console
  if [[ $rc == 125 ]]; then
    echo "vm: guest setup failed: $(cat "$res/.vm/fatal" 2>/dev/null) — full log: $res/.vm/setup.log" >&2
  else
    echo "vm: scenario $sname failed with exit $rc on $kver (results: $res)" >&2
  fi
fi
exit "$rc"
