#!/usr/bin/env bash
# prepare.sh [KERNEL] — make sure a guest kernel + initramfs are cached.
#
# KERNEL selects a Debian kernel (default: what linux-image-amd64 depends on):
#   ""|default|6.1      -> the package linux-image-amd64 depends on (bookworm: 6.1)
#   6.12 (any X.Y)      -> the package linux-image-X.Y-amd64 depends on
#                          (falls back to linux-image-amd64 if that is X.Y)
#   6.1.0-56-amd64 ...  -> exactly linux-image-<that>
# Resolution goes through apt-cache every time, so superseded kernels are
# replaced automatically. The cache lives in ${VM_CACHE:-<repo>/.cache/vm}/<kernel-version>/
# and is rebuilt only when the kernel package version (or the initramfs
# recipe) changes.
#
# Prints the cache directory on stdout. Quiet unless V=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${VM_CACHE:-$ROOT/.cache/vm}
SPEC=${1:-${KERNEL:-default}}

log() { [[ "${V:-0}" == 1 ]] && echo "vm/prepare: $*" >&2 || true; }
die() { echo "vm/prepare: ERROR: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "'$1' not found — run scripts/vm/deps.sh (installs the harness's host packages)"; }

need apt-cache; need apt-get; need dpkg-deb; need depmod; need modprobe; need cpio; need xz; need zstd
BUSYBOX=${VM_BUSYBOX:-/bin/busybox}
[[ -x $BUSYBOX ]] || die "static busybox not found at $BUSYBOX — run scripts/vm/deps.sh (busybox-static)"
if command -v readelf >/dev/null && LC_ALL=C readelf -l "$BUSYBOX" 2>/dev/null | grep -q 'Requesting program interpreter'; then
  die "$BUSYBOX is dynamically linked — install busybox-static (scripts/vm/deps.sh)"
fi

# --- resolve SPEC -> image package --------------------------------------
dep_of() { { apt-cache depends "$1" 2>/dev/null || true; } | awk '/^ *Depends: linux-image-/ {print $2; exit}'; }

case "$SPEC" in
  ""|default) pkg=$(dep_of linux-image-amd64) ;;
  [0-9]*.[0-9]*-*|[0-9]*.[0-9]*.[0-9]*)   # full ABI name, e.g. 6.1.0-56-amd64 / 6.12.117+deb12-amd64
    pkg=linux-image-$SPEC ;;
  [0-9]*.[0-9]*)
    pkg=$(dep_of "linux-image-$SPEC-amd64")
    if [[ -z $pkg ]]; then
      p=$(dep_of linux-image-amd64)
      [[ $p == linux-image-$SPEC.* ]] && pkg=$p
    fi ;;
  *) die "unknown kernel spec '$SPEC' (use e.g. 6.1, 6.12 or 6.1.0-56-amd64)" ;;
esac
[[ -n ${pkg:-} ]] || die "no Debian kernel package found for '$SPEC' in the configured apt sources (check: apt-cache search linux-image-$SPEC; maybe run apt-get update)"
pkgver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
[[ -n $pkgver && $pkgver != "(none)" ]] || die "package $pkg has no installable candidate (apt-get update?)"
kver=${pkg#linux-image-}
log "kernel '$SPEC' -> $pkg $pkgver"

dir=$CACHE/$kver
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9 || die "cannot lock $dir/.lock"

# --- kernel package ------------------------------------------------------
if [[ "$(cat "$dir/.pkg" 2>/dev/null)" != "$pkg $pkgver" || ! -f $dir/vmlinux || ! -f $dir/root/lib/modules/$kver/modules.dep ]]; then
  log "fetching $pkg $pkgver"
  rm -rf "$dir/dl" "$dir/root" "$dir/vmlinux" "$dir/.pkg" "$dir/initrd.img" "$dir/.initrd"
  mkdir -p "$dir/dl"
  ( cd "$dir/dl" && apt-get download "$pkg=$pkgver" ) >"$dir/dl/apt.log" 2>&1 \
    || { cat "$dir/dl/apt.log" >&2; die "apt-get download $pkg=$pkgver failed (network / apt sources? try apt-get update)"; }
  deb=$(ls "$dir"/dl/*.deb)
  dpkg-deb -x "$deb" "$dir/root" || die "dpkg-deb -x $deb failed (corrupt download? delete $dir and retry)"
  # usrmerge: modules may be under usr/lib/modules (6.12) or lib/modules (6.1)
  if [[ -d $dir/root/usr/lib/modules/$kver && ! -e $dir/root/lib/modules/$kver ]]; then
    mkdir -p "$dir/root/lib/modules" && mv "$dir/root/usr/lib/modules/$kver" "$dir/root/lib/modules/"
  fi
  [[ -d $dir/root/lib/modules/$kver ]] || die "$deb has no lib/modules/$kver"
  depmod -b "$dir/root" "$kver" || die "depmod -b $dir/root $kver failed"

  # extract the uncompressed ELF vmlinux (PVH boot is much faster than bzImage)
  vmlinuz=$dir/root/boot/vmlinuz-$kver
  [[ -f $vmlinuz ]] || die "$deb has no boot/vmlinuz-$kver"
  ok=0
  try() { # $1 = magic (printf-escaped), $2 = decompressor
    local off
    for off in $(LC_ALL=C grep -obUaP "$1" "$vmlinuz" | cut -d: -f1); do
      tail -c +$((off + 1)) "$vmlinuz" | $2 >"$dir/vmlinux.tmp" 2>/dev/null || true
      if [[ "$(head -c4 "$dir/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" == 7f454c46 ]]; then
        mv "$dir/vmlinux.tmp" "$dir/vmlinux"; return 0
      fi
    done
    return 1
  }
  try '\xfd\x37\x7a\x58\x5a\x00' 'xz -dc' && ok=1
  ((ok)) || { try '\x28\xb5\x2f\xfd' 'zstd -dcq' && ok=1; }
  ((ok)) || { try '\x1f\x8b\x08' 'gzip -dc' && ok=1; }
  rm -f "$dir/vmlinux.tmp"
  ((ok)) || die "could not extract an ELF vmlinux from $vmlinuz (unknown compression)"
  rm -rf "$dir/dl" "$dir/root/boot/vmlinuz-$kver"
  echo "$pkg $pkgver" >"$dir/.pkg"
fi

# --- initramfs -------------------------------------------------------------
INIT=$HERE/guest/init
MODS=(virtio_pci 9pnet_virtio 9p overlay)
stamp="$(sha256sum "$INIT" "${BASH_SOURCE[0]}" | awk '{print $1}' | tr -d '\n') $(sha256sum "$BUSYBOX" | cut -c1-16) ${MODS[*]}"
if [[ "$(cat "$dir/.initrd" 2>/dev/null)" != "$stamp" || ! -f $dir/initrd.img ]]; then
  log "building initramfs"
  t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
  mkdir -p "$t"/{bin,dev,proc,sys,newroot,mods}
  cp "$BUSYBOX" "$t/bin/busybox"
  for a in sh mount umount mkdir insmod switch_root sleep cat echo poweroff mknod ls; do ln -s busybox "$t/bin/$a"; done
  cp "$INIT" "$t/init"; chmod 755 "$t/init"
  : >"$t/mods/order"
  for m in "${MODS[@]}"; do
    modprobe -d "$dir/root" -S "$kver" --show-depends "$m" >"$t/deps" 2>&1 \
      || die "module $m not found for $kver: $(cat "$t/deps")"
    while read -r kind path _; do
      [[ $kind == insmod ]] || continue         # "builtin X" lines need nothing
      name=$(basename "$path"); name=${name%%.ko*}
      grep -qx "$name.ko" "$t/mods/order" && continue
      case $path in
        *.ko.xz)  xz -dc "$path" >"$t/mods/$name.ko" ;;
        *.ko.zst) zstd -dcq "$path" >"$t/mods/$name.ko" ;;
        *.ko.gz)  gzip -dc "$path" >"$t/mods/$name.ko" ;;
        *)        cp "$path" "$t/mods/$name.ko" ;;
      esac
      echo "$name.ko" >>"$t/mods/order"
    done <"$t/deps"
  done
  rm -f "$t/deps"
  ( cd "$t" && find . | LC_ALL=C sort | cpio -o -H newc --quiet ) | gzip -1 >"$dir/initrd.img.tmp" \
    || die "cpio of initramfs failed"
  mv "$dir/initrd.img.tmp" "$dir/initrd.img"
  echo "$stamp" >"$dir/.initrd"
  log "initramfs modules: $(tr '\n' ' ' <"$t/mods/order")"
fi

echo "$kver" >"$dir/.kver"
echo "$dir"
