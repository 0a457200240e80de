// The exposition as a file for node_exporter's textfile collector, rewritten
// every interval_sec: a temporary file in the same directory, then a rename,
// so node_exporter never reads half a file. Mode 0644 (node_exporter runs as
// its own user), set explicitly since the service's umask is 0077. The
// directory must exist (node_exporter's --collector.textfile.directory); the
// file is removed when aod stops, so stale figures do not outlive it.
import { closeSync, constants, fchmodSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { log } from "../log";
import { errorMessage } from "../util/errors";

/** Writes `text` to `path` atomically, mode 0644; never follows a symlink at the temporary name. */
export function writeTextfile(path: string, text: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.tmp`; // not *.prom: node_exporter skips it
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    try {
      fchmodSync(fd, 0o644);
      const data = typeof text === "string" ? Buffer.from(text) : text;
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export class TextfileWriter {
  private timer?: ReturnType<typeof setInterval>;
  private failing?: string;
  private wrote = false;
  writes = 0;

  constructor(
    readonly path: string,
    readonly intervalSec: number,
    private readonly render: () => Uint8Array | string,
  ) {}

  start(): void {
    this.write();
    this.timer = setInterval(() => this.write(), this.intervalSec * 1000);
  }

  /** One write; a failure is logged once until it changes or clears, and retried at the next interval. */
  write(): void {
    try {
      writeTextfile(this.path, this.render());
      this.wrote = true;
      this.writes++;
      if (this.failing) log.info("metrics: textfile written again", { path: this.path });
      this.failing = undefined;
    } catch (e) {
      const msg = errorMessage(e);
      if (msg !== this.failing)
        log.error("metrics: writing the textfile failed; retrying each interval", { path: this.path, error: msg });
      this.failing = msg;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.wrote) rmSync(this.path, { force: true });
  }
}
