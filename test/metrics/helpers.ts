// Shared by the metrics tests and the scrape benchmark: a free loopback port,
// a source with synthetic per-share histograms.
import { HIST_SLOTS, type ShareHistogram } from "../../src/tools/hist";
import type { EventSource } from "../../src/tools/source";

/** A loopback port free right now. */
export function freePort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const p = s.port!;
  s.stop(true);
  return p;
}

/** `shares` × `commands` SMB histograms with latencies spread over the buckets. */
export function syntheticHistograms(shares: number, commands: number): ShareHistogram[] {
  const out: ShareHistogram[] = [];
  for (let s = 0; s < shares; s++)
    for (let c = 0; c < commands; c++) {
      const counts = new Array<number>(HIST_SLOTS).fill(0);
      for (let i = 6; i < 24; i++) counts[i] = ((s + 1) * (c + 3) * (i + 1)) % 997;
      out.push({
        protocol: "smb",
        command: `SMB2_CMD_${c}`,
        share: `\\\\server${s % 4}.example.com\\share${s}`,
        counts,
      });
    }
  return out;
}

/** A source that reports `hs` as its per-share histograms. */
export function fakeSource(hs: ShareHistogram[]): EventSource {
  return {
    name: "fake",
    clock: undefined as never,
    start: async () => {},
    lost: () => ({ smbslower: 0n, smbiosnoop: 0n, smbconn: 0n }),
    shareHistograms: () => hs,
    status: () => "",
    close: async () => {},
  };
}

/** Polls an async predicate until it gives a value or `ms` pass. */
export async function eventually<T>(f: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined || Date.now() - t0 > ms) return v;
    await Bun.sleep(50);
  }
}
