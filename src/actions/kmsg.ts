// The kernel log from /dev/kmsg, for hosts without journald. Records are
// "prio,seq,usec_since_boot,flags;message"; those older than the lookback are
// skipped. Times are converted to UTC wall clock.
import { closeSync, constants, openSync, readSync } from "node:fs";
import { monotonicNs, realtimeNs } from "../native/libc";
import { errorCode } from "../util/errors";
import { enc } from "./capture";
import type { ActionContext, ActionOutput } from "./context";

export function readKmsg(ctx: ActionContext): ActionOutput {
  const fd = openSync("/dev/kmsg", constants.O_RDONLY | constants.O_NONBLOCK);
  const bootNs = realtimeNs() - monotonicNs();
  const sinceUs = Number((monotonicNs() - BigInt(ctx.collection.lookback_sec * 1e9)) / 1000n);
  const lines: string[] = [];
  let size = 0;
  let truncated = false;
  const buf = Buffer.alloc(8192);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if (errorCode(e) === "EAGAIN") break; // end of the buffer
        if (errorCode(e) === "EPIPE") continue; // overwritten while reading: skip on
        throw e;
      }
      if (n <= 0) break;
      const rec = buf.toString("utf8", 0, n);
      const semi = rec.indexOf(";");
      const [, , usec] = rec.slice(0, semi).split(",");
      const us = Number(usec);
      if (us < sinceUs) continue;
      const wall = new Date(Number((bootNs + BigInt(us) * 1000n) / 1_000_000n)).toISOString();
      const line = `${wall} ${rec.slice(semi + 1).split("\n")[0]}\n`;
      if (size + line.length > ctx.capBytes) {
        truncated = true;
        lines.shift(); // keep the newest
      }
      lines.push(line);
      size += line.length;
    }
  } finally {
    closeSync(fd);
  }
  return { data: enc(lines.join("")), truncated, note: "from /dev/kmsg (no journald)" };
}
