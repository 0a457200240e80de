// The mount table.
import { captureFile } from "../capture";
import { defineAction } from "../spec";

export const mounts = defineAction({
  name: "mounts",
  file: "mounts.log",
  what: "/proc/mounts",
  run: async (ctx) => captureFile("/proc/mounts", ctx),
});
