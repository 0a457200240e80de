#!/usr/bin/env bash
# Common setup inside the VM (run by guest/init stage 2 before each scenario):
# tracefs + bpffs, loopback up, cifs.ko, smbd on lo, a non-root share user,
# a share directory on its own tmpfs, and the share mounted at /mnt/smb.
# Writes the facts scenarios need to /run/vm/env (sourced before scenarios).
set -euo pipefail

SMB_USER=${SMB_USER:-aodtest}
SMB_PASS=${SMB_PASS:-aodtest-Pa55}
SMB_SRV_ROOT=/srv/smb            # tmpfs, remountable by scenarios (e.g. ENOSPC)
SMB_SRV_DIR=$SMB_SRV_ROOT/share
SMB_SHARE=//127.0.0.1/share
SMB_MNT=/mnt/smb
SMB_OPTS="username=$SMB_USER,password=$SMB_PASS"

STEP=start
step() { STEP=$*; [[ "${VM_V:-0}" == 1 ]] && echo "setup: $STEP" || true; }
trap 'rc=$?; echo "setup: FAILED at step: $STEP (exit $rc)"; for f in /var/log/samba/log.smbd /var/log/samba/log.*; do [[ -f $f ]] && { echo "--- $f"; tail -n 30 "$f"; }; done; dmesg | tail -n 20; exit $rc' ERR

step "mount tracefs/debugfs/bpffs"
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug || true
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

step "ip link set lo up"
ip link set lo up
ip addr show dev lo | grep -q 127.0.0.1

step "modprobe cifs (modules for $(uname -r) bound under /usr/lib/modules?)"
modprobe cifs
[[ -d /sys/module/cifs ]]

step "create user $SMB_USER"
id "$SMB_USER" >/dev/null 2>&1 || useradd -M -d /nonexistent -s /usr/sbin/nologin "$SMB_USER"

step "share dir $SMB_SRV_DIR on tmpfs"
mkdir -p "$SMB_SRV_ROOT"
mountpoint -q "$SMB_SRV_ROOT" || mount -t tmpfs -o size=256m,mode=755 smbsrv "$SMB_SRV_ROOT"
mkdir -p "$SMB_SRV_DIR"
chown "$SMB_USER:" "$SMB_SRV_DIR"
chmod 0755 "$SMB_SRV_DIR"

step "write /etc/samba/smb.conf"
mkdir -p /etc/samba /var/lib/samba/private /var/cache/samba /run/samba /var/log/samba
cat >/etc/samba/smb.conf <<CONF
[global]
  workgroup = WORKGROUP
  server string = aod test vm
  server role = standalone server
  interfaces = lo
  bind interfaces only = yes
  smb ports = 445
  disable netbios = yes
  passdb backend = tdbsam
  map to guest = never
  log file = /var/log/samba/log.%m
  max log size = 0
  log level = ${SMB_LOG_LEVEL:-1}
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  dns proxy = no
[share]
  path = $SMB_SRV_DIR
  read only = no
  browseable = yes
  valid users = $SMB_USER
  create mask = 0644
  directory mask = 0755
CONF
testparm -s /etc/samba/smb.conf >/dev/null 2>&1

step "smbpasswd -a $SMB_USER"
printf '%s\n%s\n' "$SMB_PASS" "$SMB_PASS" | smbpasswd -a -s "$SMB_USER" >/dev/null

step "start smbd on lo:445"
smbd -D
for _ in $(seq 1 300); do
  ss -Hltn 'sport = :445' 2>/dev/null | grep -q . && break
  sleep 0.1
done
ss -Hltn 'sport = :445' | grep -q .

step "mount -t cifs $SMB_SHARE $SMB_MNT"
mkdir -p "$SMB_MNT"
mount -t cifs "$SMB_SHARE" "$SMB_MNT" -o "$SMB_OPTS"
mountpoint -q "$SMB_MNT"

step "write /run/vm/env"
mkdir -p /run/vm
cat >/run/vm/env <<ENV
export SMB_USER='$SMB_USER' SMB_PASS='$SMB_PASS' SMB_SHARE='$SMB_SHARE' SMB_MNT='$SMB_MNT'
export SMB_OPTS='$SMB_OPTS' SMB_SRV_ROOT='$SMB_SRV_ROOT' SMB_SRV_DIR='$SMB_SRV_DIR'
ENV
step "done"
echo "setup: ok ($(uname -r), smbd $(smbd -V 2>/dev/null | awk '{print $2}'), $(grep -o 'vers=[^,]*' /proc/mounts | head -1))"
