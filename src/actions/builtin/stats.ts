// The cifs module's per-share operation counters.
import { captureFile } from "../capture";
import { defineAction } from "../spec";

export const stats = defineAction({
  name: "stats",
  file: "cifsstats.log",
  what: "/proc/fs/cifs/Stats",
  run: async (ctx) => captureFile("/proc/fs/cifs/Stats", ctx),
});
