// The cifs module's sessions, shares and channels.
import { captureFile } from "../capture";
import { defineAction } from "../spec";

export const debugdata = defineAction({
  name: "debugdata",
  file: "debug_data.log",
  what: "/proc/fs/cifs/DebugData",
  run: async (ctx) => captureFile("/proc/fs/cifs/DebugData", ctx),
});
