#!/usr/bin/env bash
# Opt-in NFS setup inside the VM, run by an NFS scenario after the common
# setup.sh:   bash "$PROJECT/scripts/vm/guest/nfs-setup.sh" && . /run/vm/env-nfs
#
# Server (kernel nfsd on the VM's loopback, the host's nfs-utils binaries):
#   /srv/nfs            tmpfs, NFSv4 root (fsid=0,crossmnt), read-only
#   /srv/nfs/data       tmpfs (256 MiB), read-write, mode 1777, crossmnt
#   /srv/nfs/data/ro    tmpfs, a nested READ-ONLY export (writes: EROFS)
# Each export is its own tmpfs (the 9p/overlay root cannot be exported, and
# nfsd applies a nested export's options only where a mount point is crossed).
# Daemons: rpcbind, rpc.statd (NLM locks for v3), rpc.mountd, rpc.nfsd
# ($NFS_THREADS threads, default 1); the NFSv4 grace period is ended at once.
# Client: 127.0.0.1:/srv/nfs/data (vers=3) at /mnt/nfs3 and 127.0.0.1:/data
# (vers=4.1) at /mnt/nfs4; both checked by a write + read, the ro export by a
# write that must fail with EROFS. Writes /run/vm/env-nfs (see the end).
set -euo pipefail

NFS_SRV_ROOT=/srv/nfs
NFS_SRV_DIR=$NFS_SRV_ROOT/data
NFS_SRV_RO_DIR=$NFS_SRV_DIR/ro
NFS3_MNT=/mnt/nfs3
NFS4_MNT=/mnt/nfs4
NFS3_EXPORT=127.0.0.1:$NFS_SRV_DIR          # as in /proc/mounts
NFS4_EXPORT=127.0.0.1:/data                 # path below the fsid=0 root
NFS3_OPTS=${NFS3_OPTS:-vers=3}
NFS4_OPTS=${NFS4_OPTS:-vers=4.1}
NFS_THREADS=${NFS_THREADS:-1}
EXP_OPTS=no_root_squash,insecure,no_subtree_check,sync

# Each exec costs 0.1-0.5 s under TCG: builtins where they do ($EPOCHREALTIME,
# $(<file), [[ -S ]], /proc/mounts read by bash) instead of date/cat/pgrep/mountpoint.
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
t0=$(now_ms)
[[ -d /run/vm ]] || mkdir -p /run/vm
ms() { echo $(($(now_ms) - t0)); }
STEP=start
step() { STEP=$*; echo "nfs-setup: [$(ms) ms] $STEP"; }
is_mnt() { local _d mp _r; while read -r _d mp _r; do [[ $mp == "$1" ]] && return 0; done </proc/mounts; return 1; }
diag() {
  echo "--- dmesg (tail)"; dmesg | tail -n 25
  echo "--- rpcinfo -p 127.0.0.1"; rpcinfo -p 127.0.0.1 2>&1 | head -n 30 || true
  echo "--- exportfs -v"; exportfs -v 2>&1 || true
  echo "--- /proc/fs/nfsd/{threads,versions}"; cat /proc/fs/nfsd/threads /proc/fs/nfsd/versions 2>&1 || true
  echo "--- daemons"; ps -eo pid,args | grep -E '[r]pcbind|[r]pc\.|[n]fsd' || true
  echo "--- nfs mounts"; grep -E ' nfs4? ' /proc/mounts || true
}
trap 'rc=$?; echo "nfs-setup: FAILED at step: $STEP (exit $rc, after $(ms) ms)"; diag; exit $rc' ERR

step "host binaries present"
for b in rpcbind rpcinfo rpc.statd rpc.mountd rpc.nfsd exportfs mount.nfs; do
  command -v "$b" >/dev/null || { echo "nfs-setup: $b not found — run scripts/vm/deps.sh on the host (nfs-kernel-server, nfs-common, rpcbind)"; false; }
done

step "modprobe nfsd nfs nfsv3 nfsv4"
modprobe -a nfsd nfs nfsv3 nfsv4
[[ -d /sys/module/nfsd && -d /sys/module/nfsv3 && -d /sys/module/nfsv4 ]]

step "mount nfsd at /proc/fs/nfsd and the export tmpfs filesystems under $NFS_SRV_ROOT"
# One `mount -a` for all four (skips what is mounted; X-mount.mkdir makes the
# nested mount points): each exec of mount costs ~0.5 s under TCG.
mkdir -p "$NFS_SRV_ROOT" "$NFS3_MNT" "$NFS4_MNT"
printf '%s\n' \
  "nfsd    /proc/fs/nfsd    nfsd   defaults 0 0" \
  "nfsroot $NFS_SRV_ROOT    tmpfs  size=1m,mode=755 0 0" \
  "nfsdata $NFS_SRV_DIR     tmpfs  size=256m,mode=1777,X-mount.mkdir 0 0" \
  "nfsro   $NFS_SRV_RO_DIR  tmpfs  size=16m,mode=755,X-mount.mkdir 0 0" >/run/vm/nfs.fstab
mount -a -T /run/vm/nfs.fstab
is_mnt /proc/fs/nfsd
is_mnt "$NFS_SRV_RO_DIR"
[[ -f $NFS_SRV_RO_DIR/README ]] || echo "read-only export" >"$NFS_SRV_RO_DIR/README"

step "write /etc/exports"
printf '%s\n' \
  "$NFS_SRV_ROOT    127.0.0.1(ro,fsid=0,crossmnt,$EXP_OPTS)" \
  "$NFS_SRV_DIR     127.0.0.1(rw,fsid=1,crossmnt,$EXP_OPTS)" \
  "$NFS_SRV_RO_DIR  127.0.0.1(ro,fsid=2,$EXP_OPTS)" >/etc/exports

if [[ $(</proc/fs/nfsd/threads) == 0 ]]; then   # else: the server runs (a second call)
  step "start rpcbind"
  # (listens before it daemonizes; /run/rpcbind exists in the host's tree)
  [[ -S /run/rpcbind.sock ]] || rpcbind -w
  [[ -S /run/rpcbind.sock ]]

  step "start rpc.statd (NLM locking for the v3 mount)"
  rpc.statd --no-notify

  step "exportfs -ra"
  exportfs -ra

  step "start rpc.mountd"
  rpc.mountd

  step "start rpc.nfsd ($NFS_THREADS threads)"
  rpc.nfsd "$NFS_THREADS"               # (registers with rpcbind before it returns)
  [[ $(</proc/fs/nfsd/threads) -ge 1 ]]

  step "end the NFSv4 grace period (no clients to reclaim)"
  # Without this, OPENs get NFS4ERR_GRACE (the client retries) for 90 s.
  # (Only right after the start: a second write fails with EBUSY.)
  [[ -w /proc/fs/nfsd/v4_end_grace ]] && echo Y >/proc/fs/nfsd/v4_end_grace
else
  step "nfsd already running: exportfs -ra"
  exportfs -ra
fi

step "mount -t nfs -o $NFS3_OPTS $NFS3_EXPORT $NFS3_MNT"
is_mnt "$NFS3_MNT" || mount -t nfs -o "$NFS3_OPTS" "$NFS3_EXPORT" "$NFS3_MNT"

step "mount -t nfs -o $NFS4_OPTS $NFS4_EXPORT $NFS4_MNT"
is_mnt "$NFS4_MNT" || mount -t nfs -o "$NFS4_OPTS" "$NFS4_EXPORT" "$NFS4_MNT"

NFS3_RO_DIR=$NFS3_MNT/ro
NFS4_RO_DIR=$NFS4_MNT/ro
checks=()
for m in "$NFS3_MNT" "$NFS4_MNT"; do
  step "check $m: write + read a file (and on the server side)"
  f=$m/.nfs-setup-check.${m##*/}
  echo "nfs-setup $m" >"$f"
  [[ $(<"$f") == "nfs-setup $m" && $(<"$NFS_SRV_DIR/${f##*/}") == "nfs-setup $m" ]]
  checks+=("$f")
  step "check $m/ro: readable, creating a file fails with EROFS"
  [[ $(<"$m/ro/README") == "read-only export" ]]
  err=$( { : >"$m/ro/.nfs-setup-check"; } 2>&1 ) && { echo "nfs-setup: a write into $m/ro succeeded"; false; }
  [[ $err == *"Read-only file system"* ]] || { echo "nfs-setup: write into $m/ro failed with '$err', not EROFS"; false; }
done
rm -f "${checks[@]}"

step "write /run/vm/env-nfs"
printf '%s\n' \
  "export NFS_SRV_ROOT='$NFS_SRV_ROOT' NFS_SRV_DIR='$NFS_SRV_DIR' NFS_SRV_RO_DIR='$NFS_SRV_RO_DIR'" \
  "export NFS3_MNT='$NFS3_MNT' NFS4_MNT='$NFS4_MNT' NFS3_EXPORT='$NFS3_EXPORT' NFS4_EXPORT='$NFS4_EXPORT'" \
  "export NFS3_OPTS='$NFS3_OPTS' NFS4_OPTS='$NFS4_OPTS' NFS3_RO_DIR='$NFS3_RO_DIR' NFS4_RO_DIR='$NFS4_RO_DIR'" \
  >/run/vm/env-nfs
echo "nfs-setup: ok in $(ms) ms ($(</proc/sys/kernel/osrelease), nfsd $(</proc/fs/nfsd/threads) thread(s), versions $(</proc/fs/nfsd/versions); $NFS3_EXPORT on $NFS3_MNT, $NFS4_EXPORT on $NFS4_MNT)"
