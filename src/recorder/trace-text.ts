// The text tracefs prints for a ring (`trace`, `snapshot`): header lines start
// with '#', every event line carries its timestamp as "<seconds>.<micro>:".
// With the instance's trace_clock set to mono, that is CLOCK_MONOTONIC.

const STAMP = /\s(\d+)\.(\d{6}):\s/;

/** First and last event times (ns on the trace clock) and the number of events. */
export function traceSpan(text: string): { firstNs?: bigint; lastNs?: bigint; events: number } {
  let firstNs: bigint | undefined;
  let lastNs: bigint | undefined;
  let events = 0;
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = STAMP.exec(line);
    if (!m) continue;
    const ns = BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!) * 1000n;
    firstNs ??= ns;
    lastNs = ns;
    events++;
  }
  return { firstNs, lastNs, events };
}
