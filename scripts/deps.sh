#!/usr/bin/env bash
# Installs what the build and tests need, and only what is missing:
# Debian packages with apt-get, JavaScript packages with `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(clang clang-format llvm libbpf-dev libelf-dev zlib1g-dev libzstd-dev bpftool zstd make
  linux-libc-dev util-linux hyperfine)
# The embedded libraries, built from Debian source packages (scripts/libs), and
# the old-userland test (test/glibc: a bullseye root filesystem).
APT_PACKAGES+=(build-essential dpkg-dev pkg-config bzip2 xz-utils debian-archive-keyring mmdebstrap)
# test/libs: a signed Debian source repository of its own (gpg signs its Release).
APT_PACKAGES+=(gpg gpg-agent gpgconf)
# make package: rpmbuild (dpkg-deb is dpkg's).
APT_PACKAGES+=(rpm)
# test/metrics: promtool, and a real Prometheus the test starts on its own loopback
# port; the package's own service is kept from starting (below).
APT_PACKAGES+=(prometheus)
# test/upload: a self-signed certificate for Azurite over HTTPS (its OAuth mode).
APT_PACKAGES+=(openssl)
# npm, for `npm ci` below: a fresh Debian 12 has neither node nor npm. Debian's
# when there is no npm at all (a nodejs from elsewhere, e.g. NodeSource, has its own).
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
APT_PACKAGES+=("$@")   # extra packages from the caller (e.g. the VM harness's)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Services the packages would start (prometheus): not on this host. Hosts
  # without systemd start them through invoke-rc.d, which honours policy-rc.d.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  trap '((made_policy)) && rm -f "$policy"' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # On systemd hosts deb-systemd-invoke enabled and started it: stop and disable
  # the Prometheus this script installed (one you installed yourself is left alone).
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
fi

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
