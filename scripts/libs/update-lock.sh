#!/usr/bin/env bash
# Moves scripts/libs/sources.lock to the newest versions the mirror really serves:
#   update-lock.sh [LIB...]      default: every library in the lock
# For each library: the versions of its source package the (refreshed) project
# lists offer, newest first; each is downloaded into a temporary directory
# (apt checks every file against the signed Sources index) and unpacked with
# dpkg-source -x (checks the files against the .dsc, applies the patches). The
# first that passes goes into the lock with its .dsc's sha256 (and its files into
# the cache, $LIBS_CACHE/src). The lock is replaced atomically; prints what changed.
# Without a lock file it writes one for the four embedded libraries.
# Environment: LIBS_LOCK, LIBS_CACHE, APT_ETC, LIBS_CODENAME (as fetch-source.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/sources.sh
. "$here/sources.sh"
me=update-lock.sh

mkdir -p "$LIBS_CACHE/src"
exec 8>"$LIBS_CACHE/fetch.lock"
flock 8
tmp=$(mktemp -d "$LIBS_CACHE/update-lock.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$LIBS_LOCK" ]; then
  cat > "$tmp/lock.in" <<'EOF'
# The Debian source packages the libraries embedded in dist/aod are built from
# (scripts/libs/build.sh, via fetch-source.sh). One line per library:
#   LIBRARY  SOURCE-PACKAGE  VERSION  SHA256-OF-THE-.dsc
# The build downloads exactly VERSION (apt-get source PKG=VERSION from the
# machine's Debian mirror: apt checks the files against the signed Sources
# index) and fails when the .dsc's sha256 differs; dpkg-source checks the other
# files against the .dsc. If the mirror does not serve VERSION, the build falls
# back to the newest version that downloads, with a WARNING (LIBS_STRICT=1: an
# error). scripts/libs/update-lock.sh rewrites this file with the newest
# versions the mirror serves.
libz     zlib      - -
libelf   elfutils  - -
libbpf   libbpf    - -
libzstd  libzstd   - -
EOF
else
  cp "$LIBS_LOCK" "$tmp/lock.in"
fi

libs=("$@")
((${#libs[@]})) || mapfile -t libs < <(awk '!/^[ \t]*(#|$)/ { print $1 }' "$tmp/lock.in")
((${#libs[@]})) || { echo "$me: no library in $LIBS_LOCK" >&2; exit 1; }

echo "  UPDATE   source lists ($LIBS_CACHE/apt)"
"$here/apt.sh" update >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; echo "$me: apt.sh update failed: the project's source lists cannot be refreshed (see above; mirrors: scripts/libs/mirrors.sh)" >&2; exit 1; }

declare -A newver newsha
failed=0
for lib in "${libs[@]}"; do
  srcpkg=""; oldver=""; oldsha=""
  read -r srcpkg oldver oldsha < <(awk -v l="$lib" '!/^[ \t]*(#|$)/ && $1 == l { print $2, $3, $4; exit }' "$tmp/lock.in") || true
  [ -n "${srcpkg:-}" ] || { echo "$me: $lib is not in $LIBS_LOCK (add a line: $lib SOURCE-PACKAGE - -)" >&2; exit 1; }
  found=""
  mapfile -t versions < <(src_versions "$srcpkg")
  ((${#versions[@]})) || echo "  $lib: the source lists offer no version of $srcpkg" >&2
  for v in "${versions[@]}"; do
    rm -rf "$tmp/dl"; mkdir "$tmp/dl"
    if ! download "$srcpkg" "$v" "$tmp/dl" "$tmp/apt.log"; then
      echo "  SKIP     $srcpkg $v: cannot be downloaded:"; apt_failure "$tmp/apt.log" | sed 's/^/    /'
      continue
    fi
    dsc=$tmp/dl/$(dsc_name "$srcpkg" "$v")
    if ! dpkg-source --no-copy -x "$dsc" "$tmp/dl/x" >"$tmp/x.log" 2>&1; then
      echo "  SKIP     $srcpkg $v: dpkg-source -x fails:"; tail -n 5 "$tmp/x.log" | sed 's/^/    /'
      continue
    fi
    rm -rf "$tmp/dl/x"
    newver[$lib]=$v; newsha[$lib]=$(sha256 "$dsc")
    mv -f "$tmp"/dl/* "$LIBS_CACHE/src/"
    found=1; break
  done
  if [ -z "$found" ]; then
    echo "$me: $lib: no version of $srcpkg downloads from the mirror; its lock line stays as it is" >&2
    failed=1; continue
  fi
  if [ "$oldver" = "${newver[$lib]}" ] && [ "$oldsha" = "${newsha[$lib]}" ]; then
    printf '  %-8s %s %s (unchanged)\n' "$lib" "$srcpkg" "$oldver"
  else
    printf '  %-8s %s %s -> %s%s\n' "$lib" "$srcpkg" "$oldver" "${newver[$lib]}" \
      "$([ "$oldver" = "${newver[$lib]}" ] && echo " (sha256 of the .dsc changed: $oldsha -> ${newsha[$lib]})")"
  fi
done

# The lock with the new lines, comments and order kept; replaced atomically.
: > "$tmp/lock.out"
while IFS= read -r line; do
  read -r l p _ <<<"$line" || true
  if [[ "$line" =~ ^[[:space:]]*(#|$) ]] || [ -z "${newver[$l]:-}" ]; then
    printf '%s\n' "$line"
  else
    printf '%-8s %-9s %-24s %s\n' "$l" "$p" "${newver[$l]}" "${newsha[$l]}"
  fi
done < "$tmp/lock.in" > "$tmp/lock.out"
if [ -f "$LIBS_LOCK" ] && cmp -s "$tmp/lock.out" "$LIBS_LOCK"; then
  echo "  LOCK     $LIBS_LOCK unchanged"
else
  cp "$tmp/lock.out" "$LIBS_LOCK.tmp.$$"
  mv "$LIBS_LOCK.tmp.$$" "$LIBS_LOCK"
  echo "  LOCK     $LIBS_LOCK written"
fi
[ "$failed" = 0 ] || { echo "$me: some libraries have no downloadable version (see above)" >&2; exit 1; }
