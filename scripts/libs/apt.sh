#!/usr/bin/env bash
# apt-get with a project-local configuration: deb-src lines for the machine's own
# Debian mirror and suites (see mirrors.sh), package lists and caches under
# $LIBS_CACHE/apt. The machine's sources, lists and caches are not touched.
#   apt.sh update              refresh the project's source package lists
#   apt.sh source PKG...       download source packages (into the current directory)
#   apt.sh showsrc|madison PKG apt-cache over the project's lists (which versions they offer)
#   apt.sh <any apt-get args>
# Concurrent calls are serialised with a lock (make -j builds the libraries in parallel).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
LIBS_CACHE=${LIBS_CACHE:-$here/../../.cache/libs}
dir=$LIBS_CACHE/apt
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"

list=$dir/sources.list
"$here/mirrors.sh" | while read -r uri suite comps sb; do
  opts=""; [ "$sb" != "-" ] && opts="[signed-by=$sb] "
  echo "deb-src ${opts}$uri $suite ${comps//,/ }"
done > "$list.tmp"
[ -s "$list.tmp" ] || { echo "apt.sh: no Debian repository for this release found in ${APT_ETC:-/etc/apt} (sources.list, sources.list.d; see scripts/libs/mirrors.sh)" >&2; exit 1; }
if cmp -s "$list.tmp" "$list"; then rm "$list.tmp"; else mv "$list.tmp" "$list"; fi

APT_OPTS=(
  -o Dir::Etc::sourcelist="$list" -o Dir::Etc::sourceparts=-
  -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache"
  -o Dir::Cache::Archives="$dir/cache/archives"
  -o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache=""
  -o APT::Get::List-Cleanup=true -o Acquire::Languages=none
)
# As root apt downloads as the _apt user, which may not reach this directory.
[ "$(id -u)" -eq 0 ] && APT_OPTS+=(-o APT::Sandbox::User=root)

exec 9>"$dir/lock"
flock 9
export DEBIAN_FRONTEND=noninteractive
case "${1:-}" in
  showsrc|madison|policy) exec apt-cache -q "${APT_OPTS[@]}" "$@" ;;
esac
exec apt-get -q "${APT_OPTS[@]}" "$@"
