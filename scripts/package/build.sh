#!/usr/bin/env bash
# Builds the deb and the rpm of aod from a built binary, with Debian's own
# tools (dpkg-deb, rpmbuild from the rpm package):
#   build.sh [BIN=dist/aod] [OUTDIR=dist]
# writes OUTDIR/aod_<version>_amd64.deb and OUTDIR/aod-<version>-<release>.x86_64.rpm
# (versions: version.sh) and prints their paths. Both install
#   /usr/bin/aod                          0755  the binary
#   /usr/lib/systemd/system/aod.service   0644  `BIN _unit --bin /usr/bin/aod --packaged`:
#                                               the unit `aod install` writes, same generator
#   /etc/aod/config.yaml                  0600  the embedded default config (a conffile;
#                                               0600 like `aod install` writes it)
#   /var/lib/aod, <aod_output_dir>        0700  state and bundles
# Everything is built in a temporary directory inside OUTDIR and renamed into
# place at the end: a failed build leaves nothing half-written.
# Environment:
#   PKG_COMPRESS=xz (default, preset 2; Debian 11 and RHEL 8 read it, not zstd debs) | gzip (fast) | none (tests)
#   DEB_VERSION, RPM_VERSION, RPM_RELEASE   override version.sh (tests: an upgrade)
#   PKG_MAINTAINER                          deb Maintainer (default: HEAD's author)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/dist/aod}
out=${2:-$repo/dist}

die() { echo "package: $*" >&2; exit 1; }

for tool in dpkg-deb rpmbuild; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool not found (apt-get install dpkg-dev rpm, or make deps)"
done
[ -x "$bin" ] || die "$bin is not an executable (make dist/aod)"
[ -d "$out" ] || die "output directory $out does not exist"
# Absolute: rpmbuild runs %install in a directory of its own.
bin=$(realpath "$bin")
out=$(realpath "$out")

if [ -z "${DEB_VERSION:-}" ] || [ -z "${RPM_VERSION:-}" ] || [ -z "${RPM_RELEASE:-}" ]; then
  read -r v_deb v_rpm v_rel < <("$here/version.sh" "$repo") || die "version.sh failed"
  DEB_VERSION=${DEB_VERSION:-$v_deb} RPM_VERSION=${RPM_VERSION:-$v_rpm} RPM_RELEASE=${RPM_RELEASE:-$v_rel}
  if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    echo "package: warning: the work tree has uncommitted changes; $DEB_VERSION names HEAD only" >&2
  fi
fi
[[ $DEB_VERSION =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "bad Debian version: $DEB_VERSION"
[[ $RPM_VERSION =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "bad rpm Version: $RPM_VERSION"
[[ $RPM_RELEASE =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "bad rpm Release: $RPM_RELEASE"
maintainer=${PKG_MAINTAINER:-$(git -C "$repo" log -1 --format='%an <%ae>' 2>/dev/null || true)}
[ -n "$maintainer" ] || die "no maintainer: set PKG_MAINTAINER=\"Name <email>\""

case ${PKG_COMPRESS:-xz} in
xz) deb_z=(-Zxz -z2) rpm_payload=w2T.xzdio ;; # -2: 10% larger than -6 (47 MB), twice as fast
gzip) deb_z=(-Zgzip -z1) rpm_payload=w1.gzdio ;;
none) deb_z=(-Znone) rpm_payload=w0.ufdio ;;
*) die "PKG_COMPRESS must be xz, gzip or none, found ${PKG_COMPRESS}" ;;
esac

tmp=$(mktemp -d "$out/.package.XXXXXX")
deb_pid=
cleanup() {
  if [ -n "$deb_pid" ]; then kill "$deb_pid" 2>/dev/null || true; wait "$deb_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# What the binary says: its unit and its default config.
"$bin" _unit --bin /usr/bin/aod --packaged >"$tmp/aod.service" ||
  die "$bin _unit failed (a binary built before packaging support? make dist/aod)"
"$bin" _unit --default-config >"$tmp/config.yaml" || die "$bin _unit --default-config failed"
grep -qx 'ExecStart=/usr/bin/aod run --config /etc/aod/config.yaml' "$tmp/aod.service" ||
  die "the unit from $bin _unit has no ExecStart for /usr/bin/aod"
# The default bundle directory: the config's aod_output_dir, which the unit
# must also have made writable (ProtectSystem=strict).
outdir=$(sed -n 's/^aod_output_dir:[[:space:]]*\([^[:space:]#]*\).*$/\1/p' "$tmp/config.yaml" | head -n1)
[[ $outdir =~ ^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$ && $outdir != *..* ]] ||
  die "the default config's aod_output_dir \"$outdir\" is not a plain absolute path"
grep -qx "ReadWritePaths=$outdir" "$tmp/aod.service" ||
  die "the unit has no ReadWritePaths=$outdir (the default config's aod_output_dir)"

# The installed tree, shared by both packages.
stage=$tmp/root
install -D -m 0755 "$bin" "$stage/usr/bin/aod"
install -D -m 0644 "$tmp/aod.service" "$stage/usr/lib/systemd/system/aod.service"
install -d -m 0755 "$stage/etc/aod"
install -m 0600 "$tmp/config.yaml" "$stage/etc/aod/config.yaml"
install -d -m 0700 "$stage/var/lib/aod" "$stage$outdir"
# Parents the packages list but do not own as aod's: the usual modes.
find "$stage" -mindepth 1 -type d ! -path "$stage/var/lib/aod" ! -path "$stage$outdir" -exec chmod 0755 {} +

# Templates: @NAME@ replaced by the value (escaped for sed's replacement).
subst() {
  local args=() kv
  for kv in "DEB_VERSION=$DEB_VERSION" "RPM_VERSION=$RPM_VERSION" "RPM_RELEASE=$RPM_RELEASE" \
    "OUTPUT_DIR=$outdir" "STAGE=$stage" "MAINTAINER=$maintainer" "INSTALLED_SIZE=${installed_size:-}"; do
    args+=(-e "s|@${kv%%=*}@|$(printf '%s' "${kv#*=}" | sed 's/[\\|&]/\\&/g')|g")
  done
  sed "${args[@]}" "$1"
}

# deb: the staged tree plus DEBIAN/ (in a copy: the rpm must not get DEBIAN/).
deb_name=aod_${DEB_VERSION}_amd64.deb
debroot=$tmp/deb
cp -al "$stage" "$debroot" # hard links: the same files, no second copy
installed_size=$(du -s -k --apparent-size "$debroot" | cut -f1)
install -d -m 0755 "$debroot/DEBIAN"
subst "$here/deb/control.in" >"$debroot/DEBIAN/control"
install -m 0644 "$here/deb/conffiles" "$debroot/DEBIAN/conffiles"
for s in preinst postinst prerm postrm; do
  subst "$here/deb/$s" >"$debroot/DEBIAN/$s"
  chmod 0755 "$debroot/DEBIAN/$s"
done
# In the background, beside rpmbuild: compressing is most of the time.
dpkg-deb --build --root-owner-group "${deb_z[@]}" "$debroot" "$tmp/$deb_name" >"$tmp/dpkg-deb.log" 2>&1 &
deb_pid=$!

# rpm: rpmbuild copies the staged tree into its buildroot (%install).
rpm_name=aod-$RPM_VERSION-$RPM_RELEASE.x86_64.rpm
mkdir -p "$tmp/rpm"
subst "$here/aod.spec.in" >"$tmp/rpm/aod.spec"
rpmbuild -bb --quiet --target x86_64 \
  --define "_topdir $tmp/rpm" \
  --define "_rpmdir $tmp" \
  --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
  --define "_binary_payload $rpm_payload" \
  --define "_buildhost localhost" \
  "$tmp/rpm/aod.spec" >"$tmp/rpmbuild.log" 2>&1 || {
  cat "$tmp/rpmbuild.log" >&2
  die "rpmbuild failed"
}
[ -f "$tmp/$rpm_name" ] || die "rpmbuild wrote no $rpm_name"
deb_ok=0
wait "$deb_pid" || deb_ok=$?
deb_pid=
if [ "$deb_ok" -ne 0 ]; then
  cat "$tmp/dpkg-deb.log" >&2
  die "dpkg-deb --build failed"
fi

mv -f "$tmp/$deb_name" "$out/$deb_name"
mv -f "$tmp/$rpm_name" "$out/$rpm_name"
echo "$out/$deb_name"
echo "$out/$rpm_name"
