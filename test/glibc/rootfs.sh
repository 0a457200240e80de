#!/usr/bin/env bash
# Builds (once) a minimal root filesystem of an older Debian release with
# mmdebstrap, from the Debian mirror this machine's apt uses (derived by
# scripts/libs/mirrors.sh: same URIs, the release's own suites), and prints the
# path of the cached tarball:
#   rootfs.sh [SUITE]          default bullseye (Debian 11, glibc 2.31)
# Cached as .cache/glibc/<suite>-rootfs.tar; delete it to rebuild.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
suite=${1:-bullseye}
cache=${GLIBC_ROOTFS_CACHE:-$root/.cache/glibc}
tar=$cache/$suite-rootfs.tar
mkdir -p "$cache"

exec 9>"$cache/$suite.lock"
flock 9
if [ -s "$tar" ]; then echo "$tar"; exit 0; fi

host=$(. /etc/os-release && echo "$VERSION_CODENAME")
sources=()
while read -r uri hsuite comps sb; do
  s=$suite${hsuite#"$host"}          # bookworm-security -> bullseye-security
  opts=""; [ "$sb" != "-" ] && opts="[signed-by=$sb] "
  sources+=("deb ${opts}$uri $s ${comps//,/ }")
done < <("$root/scripts/libs/mirrors.sh" "$host")
[ ${#sources[@]} -gt 0 ] || { echo "rootfs.sh: no Debian mirror found in /etc/apt" >&2; exit 1; }

echo "rootfs.sh: mmdebstrap $suite from: ${sources[*]}" >&2
# essential: libc6, a shell and coreutils; nothing else is needed to run aod.
tmp=$cache/.$suite-rootfs.tmp.tar
rm -f "$tmp"
mmdebstrap --quiet --variant=essential --mode=root --format=tar "$suite" "$tmp" "${sources[@]}" >&2
mv "$tmp" "$tar"
echo "$tar"
