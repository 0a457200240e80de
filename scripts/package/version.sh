#!/usr/bin/env bash
# Prints the package versions of a checkout (default: this repository) as
#   DEB_VERSION RPM_VERSION RPM_RELEASE
# The base version is package.json's. HEAD tagged v<version> is a release:
#   deb 0.2.0                        rpm 0.2.0-1
# anything else a development build (commit date in UTC, short hash):
#   deb 0.2.0~git20261201.8970211    rpm 0.2.0-0.20261201git8970211
# so a development build sorts before its release, and after the previous
# release once package.json has moved on to the next version (bump it right
# after tagging). Two development builds of one day sort by hash, not by time.
set -euo pipefail
dir=${1:-$(cd "$(dirname "$0")/../.." && pwd)}

die() { echo "version.sh: $*" >&2; exit 1; }

[ -f "$dir/package.json" ] || die "no package.json in $dir"
# The same extraction as the Makefile's VERSION.
base=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$dir/package.json")
[[ $base =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  die "package.json version \"$base\" is not MAJOR.MINOR.PATCH (a pre-release would need its own mapping to ~ and rpm's Release)"

git -C "$dir" rev-parse --verify -q HEAD >/dev/null 2>&1 ||
  die "$dir is not a git checkout with a commit: the version needs the commit (date and hash) or a v$base tag"

if git -C "$dir" tag --points-at HEAD | grep -qxF "v$base"; then
  echo "$base $base 1"
else
  date=$(TZ=UTC git -C "$dir" log -1 --format=%cd --date=format-local:%Y%m%d HEAD)
  hash=$(git -C "$dir" rev-parse --short HEAD)
  echo "$base~git$date.$hash $base 0.${date}git$hash"
fi
