// One daemon per host: an flock()ed pid file in /run/aod. The lock dies with
// the process, so a crash never leaves a stale lock; the pid inside lets
// `aod snapshot` and `aod monitor` find the daemon.
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { errno, libc } from "../native/libc";
import { AodError } from "../util/errors";

export const RUN_DIR = "/run/aod";
export const PID_FILE = `${RUN_DIR}/aod.pid`;
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

export class InstanceLock {
  private constructor(private fd: number | undefined) {}

  static acquire(path = PID_FILE): InstanceLock {
    mkdirSync(RUN_DIR, { recursive: true, mode: 0o755 });
    const fd = openSync(path, "a+", 0o644);
    if (libc.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      const e = errno();
      closeSync(fd);
      if (e === EWOULDBLOCK) {
        const pid = readDaemonPid(path);
        throw new AodError(
          `another aod is already running${pid ? ` (pid ${pid})` : ""}; stop it first (systemctl stop aod, or kill ${pid ?? "<pid>"})`,
          1,
        );
      }
      throw new AodError(`cannot lock ${path}: errno ${e}`, 1);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return new InstanceLock(fd);
  }

  release(): void {
    if (this.fd === undefined) return;
    try {
      ftruncateSync(this.fd, 0);
    } catch {}
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The running daemon's pid, if the pid file names a live process. */
export function readDaemonPid(path = PID_FILE): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    if (!(pid > 0)) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}
