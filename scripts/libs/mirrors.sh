#!/usr/bin/env bash
# Prints the Debian repositories this machine's apt uses, one per line:
#   URI SUITE COMPONENTS SIGNED_BY
# read from /etc/apt/sources.list and /etc/apt/sources.list.d/*.{list,sources}
# (one-line and deb822 formats), "deb" entries only, and only the Debian
# release's own suites: <codename>, <codename>-updates, <codename>-security.
# Third-party repositories (other suites) are left out.
#   mirrors.sh [CODENAME]   default: $LIBS_CODENAME, else this machine's
#                           (VERSION_CODENAME in /etc/os-release)
# $APT_ETC replaces /etc/apt (the tests point it at a repository of their own).
set -euo pipefail
ETC=${APT_ETC:-/etc/apt}
codename=${1:-${LIBS_CODENAME:-$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release (set LIBS_CODENAME)}")}}

{
  # One-line format: deb [opts] uri suite comp...
  for f in "$ETC/sources.list" "$ETC"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' "$f" | awk '
      $1 == "deb" {
        i = 2; sb = "-"
        if ($2 ~ /^\[/) {
          while (i <= NF) { if ($i ~ /signed-by=/) { sb = $i; sub(/.*signed-by=/, "", sb); sub(/\].*/, "", sb) }
                            if ($i ~ /\]$/) { i++; break }; i++ }
        }
        uri = $i; suite = $(i + 1); comps = ""
        for (j = i + 2; j <= NF; j++) comps = comps (comps ? "," : "") $j
        print uri, suite, comps, sb
      }'
  done
  # deb822 format: stanzas separated by blank lines.
  for f in "$ETC"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no")
          for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++) print uris[u], suites[s], comps, (sb ? sb : "-")
        types = ""; nu = 0; ns = 0; comps = ""; sb = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
        if (key == "types") types = $0
        else if (key == "uris") nu = split($0, uris, " ")
        else if (key == "suites") ns = split($0, suites, " ")
        else if (key == "components") { comps = $0; gsub(/ +/, ",", comps) }
        else if (key == "signed-by") sb = $0
        else if (key == "enabled") enabled = tolower($0)
      }
      END { flush() }' "$f"
  done
} | awk -v c="$codename" '$2 == c || $2 == c "-updates" || $2 == c "-security"' | sort -u
