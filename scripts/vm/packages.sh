#!/usr/bin/env bash
# packages.sh [BIN] — the two .debs the service scenario (10-service) installs
# in the VM, built from BIN (default dist/aod) by scripts/package/build.sh into
# ${VM_PACKAGES:-<repo>/.cache/vm/packages}/ (inside the repository: the guest
# sees it under /project):
#   install/aod_<version>_amd64.deb             this checkout's version (version.sh)
#   upgrade/aod_<version>+vmupgrade_amd64.deb   the same binary, a higher version
# PKG_COMPRESS defaults to none here (build.sh's default, xz, takes ~80 s; the
# VM reads the packages over 9p, where size costs nothing worth that). Skips
# the build when BIN, scripts/package/* and PKG_COMPRESS are what the last
# build had. Prints the two paths.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/dist/aod}
out=${VM_PACKAGES:-$repo/.cache/vm/packages}
export PKG_COMPRESS=${PKG_COMPRESS:-none}

die() { echo "vm/packages: $*" >&2; exit 1; }
[[ -x $bin ]] || die "$bin is not built (make dist/aod)"

stamp="$(sha256sum "$bin" "$repo"/scripts/package/build.sh "$repo"/scripts/package/version.sh \
  "$repo"/scripts/package/aod.spec.in "$repo"/scripts/package/deb/* | awk '{print $1}' | sha256sum | cut -c1-32) $PKG_COMPRESS"
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9 || die "cannot lock $out/.lock"
if [[ "$(cat "$out/.stamp" 2>/dev/null)" == "$stamp" ]] && compgen -G "$out/install/*.deb" >/dev/null &&
  compgen -G "$out/upgrade/*.deb" >/dev/null; then
  ls "$out"/install/*.deb "$out"/upgrade/*.deb
  exit 0
fi

rm -rf "$out/install" "$out/upgrade" "$out/.stamp"
mkdir -p "$out/install" "$out/upgrade"
read -r deb rpm rel < <("$repo/scripts/package/version.sh" "$repo") || die "version.sh failed"
t0=$(date +%s.%N)
DEB_VERSION=$deb RPM_VERSION=$rpm RPM_RELEASE=$rel \
  "$repo/scripts/package/build.sh" "$bin" "$out/install" >/dev/null || die "building the package failed"
DEB_VERSION=$deb+vmupgrade RPM_VERSION=$rpm RPM_RELEASE=$rel.vmupgrade \
  "$repo/scripts/package/build.sh" "$bin" "$out/upgrade" >/dev/null || die "building the upgrade package failed"
rm -f "$out"/install/*.rpm "$out"/upgrade/*.rpm # the VM is Debian: the debs only
dpkg --compare-versions "$deb+vmupgrade" gt "$deb" || die "$deb+vmupgrade does not sort after $deb"
echo "$stamp" >"$out/.stamp"
echo "vm/packages: built $deb and $deb+vmupgrade (PKG_COMPRESS=$PKG_COMPRESS) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s" >&2
ls "$out"/install/*.deb "$out"/upgrade/*.deb
