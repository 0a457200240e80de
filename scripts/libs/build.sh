#!/usr/bin/env bash
# Builds one of the runtime libraries embedded in dist/aod from its Debian
# source package, so that it needs no glibc newer than $GLIBC_FLOOR (2.17, the
# floor of Bun's own runtime):
#   build.sh libz|libelf|libbpf|libzstd OUT.so.1
#
# - The source package is the exact version scripts/libs/sources.lock names,
#   from the machine's own Debian mirror and suites (fetch-source.sh, apt.sh:
#   project-local deb-src configuration), downloaded once into $LIBS_CACHE/src
#   and unpacked with Debian's patches applied (dpkg-source -x). If the mirror
#   does not serve it: a WARNING and the newest version it serves, or with
#   LIBS_STRICT=1 an error (scripts/libs/update-lock.sh moves the lock).
# - Only the library is built, with the project's own build system (not
#   dpkg-buildpackage): zlib's configure, elfutils' lib/ + libelf/, libbpf's
#   src/Makefile, zstd's lib/Makefile (multithreaded).
# - Every C file is compiled with -include glibc-floor.h (glibc-symver.sh): glibc
#   symbols are bound to versions <= the floor. Functions glibc only has in newer
#   versions come from glibc-compat.c (an archive linked after the objects).
# - The result is checked: any GLIBC_x.y above the floor fails the build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib=${1:?usage: build.sh libz|libelf|libbpf|libzstd OUT}
out=${2:?usage: build.sh libz|libelf|libbpf|libzstd OUT}
case "$out" in /*) ;; *) out=$PWD/$out ;; esac
export LIBS_CACHE=${LIBS_CACHE:-$root/.cache/libs}
GLIBC_FLOOR=${GLIBC_FLOOR:-2.17}
work=${LIBS_WORK:-$root/build/libs}/$lib
jobs=$(nproc 2>/dev/null || echo 2)
V=${V:-0}

case "$lib" in
  libz|libelf|libbpf|libzstd) ;;
  *) echo "build.sh: unknown library $lib (libz, libelf, libbpf or libzstd)" >&2; exit 2 ;;
esac

log=$work.log
# One build per library at a time (other makes may run in the same tree); one
# that waited finds the library already rebuilt from these same scripts.
mkdir -p "$(dirname "$work")"
exec 7>"$work.lock"
if ! flock -n 7; then
  printf '  %-8s %s\n' WAIT "$lib (being built by another make)"
  flock 7
  up=1; for f in "$here"/{build.sh,glibc-symver.sh,glibc-compat.c,fetch-source.sh,sources.sh,apt.sh,mirrors.sh} "${LIBS_LOCK:-$here/sources.lock}"; do [ "$out" -nt "$f" ] || up=0; done
  [ "$up" = 1 ] && { printf '  %-8s %s\n' LIB "$out (up to date)"; exit 0; }
fi
say() { printf '  %-8s %s\n' "$1" "$2"; }
# Runs a build step, its output in $log; shown only on failure (or with V=1).
step() {
  if [ "$V" = 1 ]; then "$@" 2>&1 | tee -a "$log"; return "${PIPESTATUS[0]}"; fi
  "$@" >>"$log" 2>&1 || { echo "build.sh: $lib: failed: $*" >&2; tail -n 40 "$log" >&2; echo "(full log: $log)" >&2; exit 1; }
}

# --- source ---------------------------------------------------------------
# The locked version's .dsc (downloaded or cached; fetch-source.sh explains failures).
dsc=$("$here/fetch-source.sh" "$lib")
srcpkg=$(sed -n 's/^Source: //p' "$dsc")
version=$(sed -n 's/^Version: //p' "$dsc")

rm -rf "$work" "$log"
mkdir -p "$(dirname "$work")"
say SRC "$srcpkg $version"
# apt checked the files against the signed Sources index; dpkg-source checks them against the .dsc.
mkdir -p "$work"
step dpkg-source --no-copy -x "$dsc" "$work/src"
src=$work/src

# --- glibc floor: header + compat archive ----------------------------------
hdr=$work/glibc-floor.h
"$here/glibc-symver.sh" "$GLIBC_FLOOR" > "$hdr"
CC=${CC_LIBS:-gcc}
HARDEN="-fstack-protector-strong -D_FORTIFY_SOURCE=2 -fcf-protection -Wformat -Werror=format-security"
BASE_CFLAGS="-g0 -fPIC $HARDEN -include $hdr"
LDFLAGS="-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack"
compat=$work/compat/libglibc-compat.a
mkdir -p "$work/compat"
for f in stat fstat lstat fstatat stat64 fstat64 lstat64 fstatat64; do
  $CC -O2 $BASE_CFLAGS -Wall -Werror -DCOMPAT_$f -DCOMPAT_NAME=$f -c "$here/glibc-compat.c" -o "$work/compat/$f.o"
done
ar rcs "$compat" "$work"/compat/*.o

# --- build -------------------------------------------------------------------
say BUILD "$lib from $srcpkg $version"
case "$lib" in
  libz)
    cd "$src"
    # zlib's own configure (Debian: -O3, -D_REENTRANT).
    step env CC="$CC" CFLAGS="-O3 -D_REENTRANT $BASE_CFLAGS" LDFLAGS="$LDFLAGS $compat" ./configure --shared
    step make -j"$jobs" "$(sed -n 's/^SHAREDLIBV=//p' Makefile)"
    built=$src/$(sed -n 's/^SHAREDLIBV=//p' Makefile)
    ;;
  libelf)
    cd "$src"
    # Only lib/ (libeu.a) and libelf/: no tools, no debuginfod, no compression
    # libraries but zlib (as Debian's libelf1: NEEDED libz.so.1 only).
    step env CC="$CC" CFLAGS="-O2 $BASE_CFLAGS" LDFLAGS="$LDFLAGS" ./configure \
      --disable-debuginfod --disable-libdebuginfod --without-bzlib --without-lzma --without-zstd \
      --disable-nls --disable-valgrind
    step make -j"$jobs" -C lib libeu.a
    step make -j"$jobs" -C libelf libelf.so libelf_so_LDLIBS="../lib/libeu.a -lz $compat"
    built=$src/libelf/libelf.so
    ;;
  libbpf)
    cd "$src/src"
    # Links against the system's libelf-dev/zlib1g-dev (same sonames and symbol
    # versions as the embedded ones, which are loaded first).
    bpfver=$(awk -F' := ' '/^LIBBPF_(MAJOR|MINOR|PATCH)_VERSION/ { v = v (v ? "." : "") $2 } END { print v }' Makefile)
    step make -j"$jobs" CC="$CC" CFLAGS="-O2 -Wall $BASE_CFLAGS" LDFLAGS="$LDFLAGS" \
      EXTRA_LDFLAGS="$compat" "libbpf.so.$bpfver"
    built=$src/src/libbpf.so.$bpfver
    ;;
  libzstd)
    cd "$src/lib"
    # The shared library is multithreaded by default (ZSTD_MULTITHREAD, -pthread).
    # pthread_create/join are pinned to GLIBC_2.2.5, which glibc < 2.34 has in
    # libpthread.so.0 only: it becomes a NEEDED library (a stub on newer glibc).
    # Flags from the environment, as dh does: the Makefile appends to them.
    step env CFLAGS="-O3 $BASE_CFLAGS" LDFLAGS="$LDFLAGS" \
      LDFLAGS_DYNLIB="-pthread -Wl,--push-state,--no-as-needed -l:libpthread.so.0 -Wl,--pop-state $compat" \
      make -j"$jobs" CC="$CC" libzstd
    built=$(ls "$src"/lib/libzstd.so.*.*.* | head -1)
    ;;
esac

# --- check and install -------------------------------------------------------
tmp=$out.tmp
mkdir -p "$(dirname "$out")"
strip --strip-unneeded -o "$tmp" "$built"
soname=$(objdump -p "$tmp" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = "$(basename "$out")" ] || { echo "build.sh: $lib: SONAME is $soname, expected $(basename "$out")" >&2; rm -f "$tmp"; exit 1; }
max=$(objdump -T "$tmp" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
if [ "$(printf '%s\n%s\n' "$max" "$GLIBC_FLOOR" | sort -V | tail -1)" != "$GLIBC_FLOOR" ]; then
  echo "build.sh: $lib needs GLIBC_$max > GLIBC_$GLIBC_FLOOR:" >&2
  objdump -T "$tmp" | awk -v f="$GLIBC_FLOOR" '/GLIBC_/ { v = $0; sub(/.*GLIBC_/, "", v); sub(/[) ].*/, "", v); print v, $NF }' \
    | sort -V | awk -v f="$GLIBC_FLOOR" '{ print "  " $2 "@GLIBC_" $1 }' | tail -n 20 >&2
  echo "(add a definition to scripts/libs/glibc-compat.c, or a mapping to glibc-symver.sh)" >&2
  rm -f "$tmp"; exit 1
fi
# Which references the header moved to an older version (for the log).
pinned=$(objdump -T "$tmp" | awk '/\*UND\*/ && /GLIBC_/ { print $NF }' | sort -u \
  | grep -xF -f <(sed -n 's/^__asm__(".symver \([^,]*\),\([^@]*\)@.*/\1\n\2/p' "$hdr") | paste -sd' ' || true)
echo "$lib $srcpkg $version GLIBC_$max pinned: ${pinned:-none}" >> "$log"
mv "$tmp" "$out"
say LIB "$out ($srcpkg $version, needs GLIBC_$max${pinned:+; pinned: $pinned})"
