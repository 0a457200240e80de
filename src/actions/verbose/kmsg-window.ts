// The kernel log lines of a verbose window, read from /dev/kmsg while it is open.
import { closeSync, constants, openSync, readSync } from "node:fs";
import { monotonicNs, realtimeNs } from "../../native/libc";
import { errorCode } from "../../util/errors";
import { oneLine, TextOutput } from "../text-output";

/** The kernel log records from a point on, read while the window is open (the ring may wrap before its end). Times as src/actions/kmsg.ts gives them. */
export class KmsgWindow {
  private readonly fd: number;
  private readonly bootNs = realtimeNs() - monotonicNs();
  private readonly buf = Buffer.alloc(8192);
  readonly out: TextOutput;
  lines = 0;
  dropped = 0;
  overwritten = 0;

  constructor(path: string, capBytes: number) {
    this.fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.out = new TextOutput(capBytes);
  }

  /**
   * Reads every record available; keeps them when `keep`. Records are told
   * apart by position, not time: the kernel log's clock is not quite
   * CLOCK_MONOTONIC, and a window is seconds long.
   */
  drain(keep: boolean): void {
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        if (errorCode(e) === "EAGAIN") return; // nothing more for now
        if (errorCode(e) === "EPIPE") {
          this.overwritten++; // the ring wrapped past our position
          continue;
        }
        throw e;
      }
      if (n <= 0) return;
      const rec = this.buf.toString("utf8", 0, n);
      const semi = rec.indexOf(";");
      if (!keep) continue;
      const us = Number(rec.slice(0, semi).split(",")[2]);
      const wall = new Date(Number((this.bootNs + BigInt(us) * 1000n) / 1_000_000n)).toISOString();
      if (this.out.add(`${wall} ${oneLine(rec.slice(semi + 1).split("\n")[0]!)}\n`)) this.lines++;
      else this.dropped++;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
