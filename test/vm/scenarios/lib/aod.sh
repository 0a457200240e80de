# shellcheck shell=bash
# Helpers for the aod scenarios (03..07), sourced after NAME, RESULTS, PROJECT
# and SMB_MNT are set: which aod to run, start/wait/stop it, collect bundles.
BUN=$PROJECT/node_modules/.bin/bun
# The built binary when it is newer than every source and BPF object, else the
# sources themselves (the same code, run by the project's bun).
if [[ -x $PROJECT/dist/aod && -z $(find "$PROJECT/src" "$PROJECT/build/bpf" "$PROJECT/config" -type f -newer "$PROJECT/dist/aod" 2>/dev/null | head -1) ]]; then
  AOD=("$PROJECT/dist/aod")
else
  AOD=("$BUN" "$PROJECT/src/main.ts")
fi
echo "${AOD[*]}" >"$RESULTS/aod-cmd"
export AOD_LOG_LEVEL=info
OUT=/var/lib/aod-vm                      # aod_output_dir (guest-local; bundles copied to $RESULTS)
CONF=$RESULTS/config.yaml
AOD_PID=""
say() { echo "$NAME: [${SECONDS}s] $*"; }
die() { say "FAILED: $*"; [[ -n $AOD_PID ]] && kill -TERM "$AOD_PID" 2>/dev/null; tc qdisc del dev lo root 2>/dev/null; exit 1; }
# start_aod LOG: aod run --config $CONF in the background, stderr to LOG
start_aod() {
  "${AOD[@]}" run --config "$CONF" >"$RESULTS/aod.stdout" 2>"$1" &
  AOD_PID=$!
}
# wait_log LOG REGEX SECONDS [COUNT]: until REGEX matches COUNT lines of LOG
wait_log() {
  local n=${4:-1} end=$((SECONDS + $3))
  while ((SECONDS < end)); do
    (($(grep -Ec "$2" "$1" 2>/dev/null) >= n)) && return 0
    kill -0 "$AOD_PID" 2>/dev/null || { say "aod (pid $AOD_PID) exited while waiting for /$2/"; tail -n 20 "$1"; return 1; }
    sleep 0.25
  done
  (($(grep -Ec "$2" "$1" 2>/dev/null) >= n)) && return 0
  say "timed out after $3 s waiting for /$2/ (x$n) in $1"; tail -n 20 "$1"; return 1
}
# stop_aod: SIGTERM, wait, exit code to aod.rc
stop_aod() {
  kill -TERM "$AOD_PID" 2>/dev/null
  local rc=0
  wait "$AOD_PID" || rc=$?
  echo "$rc" >"$RESULTS/aod.rc"
  AOD_PID=""
}
# collect_bundles: bundles.json (aod bundles --json), per bundle the unpacked
# members and their list (members, from tar), show.json (aod bundles show
# --json) for the newest one only (each aod start costs seconds under TCG)
collect_bundles() {
  local f b newest=""
  "${AOD[@]}" bundles --config "$CONF" --json >"$RESULTS/bundles.json" 2>"$RESULTS/bundles.stderr" || say "aod bundles failed: $(cat "$RESULTS/bundles.stderr")"
  mkdir -p "$RESULTS/bundles"
  for f in "$OUT"/batches/aod_quick_*.tar.zst; do
    [[ -e $f ]] || continue
    b=$RESULTS/bundles/$(basename "$f" .tar.zst)
    mkdir -p "$b"
    zstd -dcq "$f" | tar -t >"$b/members" || say "cannot list $f"
    zstd -dcq "$f" | tar -x -C "$b" || say "cannot unpack $f"
    cp "$f" "$b.tar.zst"                  # the archive itself, for checks on the host (verify, redact)
    newest=$f
  done
  [[ -n $newest ]] && "${AOD[@]}" bundles show "$newest" --config "$CONF" --json >"$RESULTS/bundles/$(basename "$newest" .tar.zst)/show.json" 2>"$RESULTS/bundles/show.stderr"
  say "bundles: $(ls "$RESULTS/bundles" | grep -c aod_quick_)"
}
now_ns() { date +%s%N; }
# smbd_pids / smbd_up / start_smbd: stop and start the VM's Samba server (05, 08).
smbd_pids() { # the daemon (pid file) and every process holding a :445 socket
  { cat /run/samba/smbd.pid 2>/dev/null; ss -Htnlp 'sport = :445' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2
    ss -Htnp 'sport = :445' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2; } | sort -u
}
smbd_up() { ss -Hltn 'sport = :445' 2>/dev/null | grep -q .; }
start_smbd() {
  smbd -D
  local i
  for i in $(seq 1 100); do smbd_up && return 0; sleep 0.1; done
  return 1
}
