#!/usr/bin/env bash
# Downloads the Debian source package of one embedded library, exactly the
# version scripts/libs/sources.lock names, and prints the path of its .dsc:
#   fetch-source.sh LIB            (LIB: the lock's first column, e.g. libz)
#
# - apt-get source --download-only PKG=VERSION (apt.sh: the machine's Debian
#   mirror, project-local lists): apt checks every file against the signed
#   Sources index; then the .dsc's sha256 must be the lock's (else: error).
#   dpkg-source -x (build.sh) checks the other files against the .dsc.
# - Cached in $LIBS_CACHE/src; only the locked version's .dsc is used from there.
# - When the locked version cannot be downloaded (the mirror lists it but does
#   not serve it, or no longer lists it), it says what failed and falls back to
#   the newest other version the lists offer that downloads, with a WARNING.
#   LIBS_STRICT=1 makes that an error.
# Environment: LIBS_LOCK (the lock), LIBS_CACHE, LIBS_STRICT, V=1 (apt's output),
# APT_ETC and LIBS_CODENAME (which repositories: see mirrors.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/sources.sh
. "$here/sources.sh"
me=fetch-source.sh
lib=${1:?usage: fetch-source.sh LIB (a library named in scripts/libs/sources.lock)}
STRICT=${LIBS_STRICT:-0}
V=${V:-0}
say() { printf '  %-8s %s\n' "$1" "$2" >&2; }

entry=$(lock_entry "$lib")
[ -n "$entry" ] || { echo "$me: $lib is not in $LIBS_LOCK (add a line: $lib SOURCE-PACKAGE VERSION SHA256, or run scripts/libs/update-lock.sh)" >&2; exit 1; }
read -r srcpkg version want <<<"$entry"
[[ "$want" =~ ^[0-9a-f]{64}$ ]] || { echo "$me: $LIBS_LOCK: the line of $lib has no sha256 of the .dsc (4th column): '$lib $entry'" >&2; exit 1; }

src=$LIBS_CACHE/src
mkdir -p "$src"
# One fetch at a time (make -j builds the libraries in parallel; update-lock.sh).
exec 8>"$LIBS_CACHE/fetch.lock"
flock 8
tmp=$(mktemp -d "$LIBS_CACHE/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# try VERSION: the version's .dsc in the cache, or downloaded into it; 1 if it cannot be downloaded.
# apt's output of the last attempt is in $tmp/apt.log.
try() {
  local v=$1 name d
  name=$(dsc_name "$srcpkg" "$v")
  [ -f "$src/$name" ] && return 0
  say FETCH "$srcpkg $v (apt-get source)"
  rm -rf "$tmp/dl"; mkdir "$tmp/dl"
  ensure_lists
  if ! download "$srcpkg" "$v" "$tmp/dl" "$tmp/apt.log"; then
    # Stale lists (a newer upload replaced the file on the mirror): refresh once.
    "$here/apt.sh" update >/dev/null 2>"$tmp/update.log" || { cat "$tmp/update.log" >&2; echo "$me: apt.sh update failed: the project's source lists ($LIBS_CACHE/apt) cannot be refreshed from the mirrors in ${APT_ETC:-/etc/apt} (see apt's errors above: network, mirror, signing key)" >&2; exit 1; }
    rm -rf "$tmp/dl"; mkdir "$tmp/dl"
    download "$srcpkg" "$v" "$tmp/dl" "$tmp/apt.log" || { [ "$V" = 1 ] && cat "$tmp/apt.log" >&2; return 1; }
  fi
  [ "$V" = 1 ] && cat "$tmp/apt.log" >&2
  d=$tmp/dl/$name
  if [ "$v" = "$version" ] && [ "$(sha256 "$d")" != "$want" ]; then
    mismatch "$(sha256 "$d")" "downloaded from the mirror"
  fi
  # Into the cache only complete, checked downloads.
  mv -f "$tmp"/dl/* "$src/"
}

mismatch() {
  cat >&2 <<EOF
$me: $lib: the .dsc of $srcpkg $version does not match the lock:
  sha256 of $(dsc_name "$srcpkg" "$version") ($2):
    $1
  sha256 in $LIBS_LOCK:
    $want
The same version with different contents: the lock was edited by hand, or the
mirror serves other files than when the lock was written. Check which is right;
scripts/libs/update-lock.sh rewrites the lock from what the mirror serves now.
EOF
  [ "$2" = "downloaded from the mirror" ] || echo "(if the cached file is the wrong one: rm $src/$(dsc_name "$srcpkg" "$version"))" >&2
  exit 1
}

locked=$src/$(dsc_name "$srcpkg" "$version")
if try "$version"; then
  got=$(sha256 "$locked")
  [ "$got" = "$want" ] || mismatch "$got" "cached: $locked"
  echo "$locked"
  exit 0
fi

# --- the locked version cannot be downloaded ----------------------------------
explain() {
  cat >&2 <<EOF
$me: $lib: the locked source package $srcpkg $version cannot be downloaded
($LIBS_LOCK). apt says:
$(apt_failure "$tmp/apt.log")
The mirror's Sources index may list files it does not serve (yet, or any more).
To fix: run scripts/libs/update-lock.sh (moves the lock to the newest versions
the mirror serves; commit scripts/libs/sources.lock), or use a mirror that
serves this version (/etc/apt/sources.list*, or APT_ETC=DIR with a sources.list).
EOF
}
explain
if [ "$STRICT" = 1 ]; then
  echo "$me: LIBS_STRICT=1: no fallback to another version; stopping." >&2
  exit 1
fi
echo "$me: falling back to the newest other version that downloads (LIBS_STRICT=1 makes this an error)." >&2

tried=()
while read -r v; do
  [ "$v" = "$version" ] && continue
  if try "$v"; then
    cat >&2 <<EOF
WARNING: ==========================================================================
WARNING: $lib: building from $srcpkg $v, NOT the locked $srcpkg $version
WARNING: ($LIBS_LOCK), which cannot be downloaded (see above).
WARNING: $v's .dsc has no sha256 in the lock: it is verified only by apt
WARNING: (against the signed Sources index) and dpkg-source (files against the .dsc).
WARNING: Fix: scripts/libs/update-lock.sh, then commit the lock. LIBS_STRICT=1 fails instead.
WARNING: ==========================================================================
EOF
    echo "$src/$(dsc_name "$srcpkg" "$v")"
    exit 0
  fi
  tried+=("$v: $(apt_failure "$tmp/apt.log" | head -n 1 | sed 's/^ *//')")
done < <(src_versions "$srcpkg")

echo "$me: $lib: no other version of $srcpkg downloads either:" >&2
((${#tried[@]})) && printf '  %s\n' "${tried[@]}" >&2 || echo "  (the source lists offer no other version)" >&2
exit 1
