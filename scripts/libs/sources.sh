# Shared by fetch-source.sh and update-lock.sh (sourced, not run): the lock file
# and downloading one exact version of a Debian source package.
#   $LIBS_LOCK   the lock (default scripts/libs/sources.lock)
#   $LIBS_CACHE  apt lists and downloaded sources (default .cache/libs)
# shellcheck shell=bash
libs_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LIBS_CACHE=${LIBS_CACHE:-$(cd "$libs_here/../.." && pwd)/.cache/libs}
case "$LIBS_CACHE" in /*) ;; *) LIBS_CACHE=$PWD/$LIBS_CACHE ;; esac  # apt runs in other directories
LIBS_LOCK=${LIBS_LOCK:-$libs_here/sources.lock}
case "$LIBS_LOCK" in /*) ;; *) LIBS_LOCK=$PWD/$LIBS_LOCK ;; esac

# lock_entry LIB -> "SRCPKG VERSION SHA256" (empty when the lock has no such line).
lock_entry() {
  [ -f "$LIBS_LOCK" ] || { echo "$(basename "$0"): no lock file $LIBS_LOCK (scripts/libs/update-lock.sh writes one)" >&2; exit 1; }
  awk -v l="$1" '!/^[ \t]*(#|$)/ && $1 == l { print $2, $3, $4; exit }' "$LIBS_LOCK"
}

# The file name of a version's .dsc (no epoch): zlib 1:1.2.13.dfsg-1 -> zlib_1.2.13.dfsg-1.dsc
dsc_name() { echo "${1}_${2#*:}.dsc"; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# Source lists present (a fresh cache has none).
ensure_lists() {
  # A failure shows in what follows (no source package; the retry's update).
  compgen -G "$LIBS_CACHE/apt/lists/*Sources*" >/dev/null || "$libs_here/apt.sh" update >/dev/null 2>&1 || true
}

# The versions of source package PKG the project's Sources lists offer, newest first.
src_versions() {
  local pkg=$1 v out=() i j
  while read -r v; do
    [ -n "$v" ] || continue
    # Insertion sort with Debian's ordering (epochs, ~): a handful of versions.
    for ((i = 0; i < ${#out[@]}; i++)); do dpkg --compare-versions "$v" gt "${out[i]}" && break; done
    out=("${out[@]:0:i}" "$v" "${out[@]:i}")
  done < <("$libs_here/apt.sh" showsrc "$pkg" 2>/dev/null \
    | awk -v p="$pkg" '/^Package: / { cur = $2 } /^Version: / && cur == p { print $2 }' | sort -u)
  for j in "${out[@]}"; do echo "$j"; done
}

# download PKG VERSION DIR LOG: apt-get source --download-only PKG=VERSION into
# the empty directory DIR, apt's output in LOG. apt checks every file against
# the signed Sources index. Fails when any file cannot be fetched.
download() {
  local pkg=$1 version=$2 dir=$3 log=$4
  (cd "$dir" && "$libs_here/apt.sh" source --download-only "$pkg=$version") </dev/null >"$log" 2>&1 \
    && [ -f "$dir/$(dsc_name "$pkg" "$version")" ]
}

# apt_failure LOG: what failed, from apt's output: for each file, the suite it
# came from ("Err:" lines) and its URL with the reason ("E:" lines).
apt_failure() {
  sed -n -e 's/ *\[IP: [^]]*\]//' \
    -e '/^Err:[0-9]* /{s/^Err:[0-9]* \([^ ]*\) \([^ ]*\) \(.*\)/  \3 from suite \2 of \1:/;N;s/\n */ /;s/ *\[IP: [^]]*\]//;p;}' \
    -e '/^E: Failed to fetch some archives/d' -e '/^E: /s/^/  /p' "$1"
}
