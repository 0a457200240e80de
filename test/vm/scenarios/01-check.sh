#!/usr/bin/env bash
# 01-check: the harness's smoke test (lib/smoke.sh), then the built agent's
# preflight inside the VM, against a real
# cifs mount: `/project/dist/aod check --json`. Output goes to the results dir
# (check.json, check.stderr, check.rc); the test asserts on check.json.
# Fails when aod check exits non-zero; writes check.missing (exit 0) when
# dist/aod has not been built.
set -euo pipefail
: "${RESULTS:=/results}" "${PROJECT:=/project}"
AOD=$PROJECT/dist/aod

bash "$(dirname "$0")/lib/smoke.sh"        # the VM itself first: cifs, the share, tracepoints, BTF

if [[ ! -x $AOD ]]; then
  # Not built: nothing to run. The test decides whether that is acceptable
  # (it is not under CI=true).
  echo "check: $AOD not found — build it first (make build); skipping" | tee "$RESULTS/check.missing"
  exit 0
fi

echo "check: $AOD check --json"
set +e
"$AOD" check --json >"$RESULTS/check.json" 2>"$RESULTS/check.stderr"
rc=$?
set -e
echo "$rc" >"$RESULTS/check.rc"
if ((rc != 0)); then
  echo "check: aod check exited $rc"
  echo "--- stdout"; head -c 4000 "$RESULTS/check.json"; echo
  echo "--- stderr"; tail -n 40 "$RESULTS/check.stderr"
  exit "$rc"
fi
echo "check: ok ($(wc -c <"$RESULTS/check.json") bytes of JSON)"
