# The shape the VM overhead benchmarks share (smb-overhead.sh, nfs-overhead.sh),
# sourced after they define `workload NAME`, `timed LABEL AOD` and
# `timed_aod LABEL AOD CONF`, and set CONF and CONF_NOREC.
# shellcheck shell=bash

# warm_up: one untimed workload, and the aod binary in the guest's page cache
# (it comes over 9p), so the first timed run is not the one that pays for either.
warm_up() {
  say "warm-up"
  workload warm || die "warm-up workload failed"
  [[ ${AOD[0]} == */dist/aod ]] && cat "${AOD[0]}" >/dev/null
  return 0
}

# rotated_rounds N: N rounds of without aod (0), with it (1) and with its
# recorder off (2), the order rotated each round so no condition always goes first.
rotated_rounds() {
  local p a order=(0 1 2 0 1)
  for ((p = 1; p <= $1; p++)); do
    for a in "${order[@]:(p - 1) % 3:3}"; do
      case $a in
        0) timed "without-$p" 0 ;;
        1) timed_aod "with-$p" 1 "$CONF" ;;
        2) timed_aod "with-norec-$p" 2 "$CONF_NOREC" ;;
      esac
    done
  done
}

# hooks TOOL: how the first run with aod attached TOOL ("fentry", ...), from its log.
hooks() { grep -ho "$1 via [^;\"]*" "$RESULTS/aod-with-1.log" | head -1 | sed 's/.* via //'; }
