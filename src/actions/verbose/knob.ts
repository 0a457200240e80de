// Writing one value to a kernel knob (/proc/fs/cifs/cifsFYI, /proc/sys/sunrpc/*_debug): one write(2).
import { closeSync, constants, openSync, writeSync } from "node:fs";

export function writeKnob(path: string, value: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}
