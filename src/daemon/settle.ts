// After start, after an attach and after collections, the daemon goes quiet:
// a few seconds later the garbage left by that work is collected and the code
// it ran is unmapped (native/working-set.ts), so an idle aod holds only what
// its steady state uses. One timer: a new busy moment pushes it back, and
// while events stream it waits (a trim stalls the thread that drains the ring
// for tens of ms, and the pages would come straight back).
import { log } from "../log";
import { trimWorkingSet } from "../native/working-set";

const QUIET_MS = 3000;
let timer: ReturnType<typeof setTimeout> | undefined;
let lastEvents = Number.NEGATIVE_INFINITY;

/** Events arrived now (the daemon calls this per batch). */
export function noteEvents(): void {
  lastEvents = performance.now();
}

/** Settles once nothing else called this for QUIET_MS. */
export function settleSoon(ms = QUIET_MS): void {
  clearTimeout(timer);
  timer = setTimeout(settleNow, ms);
  timer.unref?.();
}

/** Cancels a pending settle (the daemon is stopping). */
export function cancelSettle(): void {
  clearTimeout(timer);
  timer = undefined;
}

function settleNow(): void {
  timer = undefined;
  if (performance.now() - lastEvents < QUIET_MS) {
    settleSoon();
    return;
  }
  Bun.gc(true);
  const t = trimWorkingSet();
  log.debug("working set trimmed", { mappings: t.mappings, kb: Math.round(t.bytes / 1024) });
}
