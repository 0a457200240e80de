#!/usr/bin/env bash
# Install the host packages the qemu VM test harness needs (idempotent).
# Only calls apt-get when something is missing. Samba and the NFS server/
# client tools are installed for their binaries (the VM runs them from the
# host's / over 9p); the host's own smbd/nmbd and nfs-server/rpcbind/statd
# services are kept from starting / disabled.
set -euo pipefail

PKGS=(qemu-system-x86 samba cifs-utils busybox-static kmod iproute2 cpio xz-utils zstd
      nfs-kernel-server nfs-common rpcbind
      systemd)  # 10-service boots the host's systemd as the guest's PID 1 (images without it exist)

log() { [[ "${V:-0}" == 1 ]] && echo "vm/deps: $*" >&2 || true; }
die() { echo "vm/deps: ERROR: $*" >&2; exit 1; }

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$st" == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  log "all packages present"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "missing packages: ${missing[*]} — run as root (or: sudo apt-get install ${missing[*]})"
command -v apt-get >/dev/null || die "apt-get not found; install manually: ${missing[*]}"

echo "vm/deps: installing: ${missing[*]}" >&2

# Keep package maintainer scripts from starting smbd/nmbd/samba-ad-dc,
# nfs-kernel-server, rpcbind, rpc.statd… on the host (non-systemd hosts use
# invoke-rc.d, which honours policy-rc.d).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
fi
cleanup() { ((made_policy)) && rm -f "$policy"; true; }
trap cleanup EXIT

out=$(mktemp)
run() {
  if [[ "${V:-0}" == 1 ]]; then "$@"; else "$@" >"$out" 2>&1 || { cat "$out" >&2; return 1; }; fi
}
export DEBIAN_FRONTEND=noninteractive
if ! run apt-get install -y --no-install-recommends "${missing[@]}"; then
  log "install failed, retrying after apt-get update"
  run apt-get update || die "apt-get update failed (is the Debian mirror reachable?)"
  run apt-get install -y --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed (see output above)"
fi
rm -f "$out"

# On systemd hosts the units are enabled/started by deb-systemd-invoke:
# stop & disable them; the VM runs its own smbd, rpcbind and nfsd on its own
# loopback (scripts/vm/guest/setup.sh, guest/nfs-setup.sh). Sockets before
# services (rpcbind.socket would start rpcbind again); the targets pull in
# statd/idmapd/gssd at boot.
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
  for u in smbd nmbd samba-ad-dc \
    nfs-server nfs-kernel-server nfs-mountd nfs-idmapd nfsdcld nfs-blkmap \
    rpc-statd rpc-statd-notify rpc-gssd rpc-svcgssd nfs-client.target \
    rpcbind.socket rpcbind; do
    systemctl disable --now "$u" >/dev/null 2>&1 || true
  done
fi
echo "vm/deps: ok" >&2
