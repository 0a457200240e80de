// The systemd journal for the lookback period (collection.lookback_sec).
import { existsSync } from "node:fs";
import { findBinary } from "../../host/which";
import { captureCommand, enc } from "../capture";
import type { ActionContext } from "../context";
import { type ActionBinary, defineAction } from "../spec";

/** journalctl --since for the lookback period before detection. */
export const since = (ctx: ActionContext) => `@${Math.floor(ctx.detectedAtMs / 1000 - ctx.collection.lookback_sec)}`;
export const hasJournal = () => existsSync("/run/systemd/journal") && !!findBinary("journalctl");

export const JOURNALCTL: ActionBinary = {
  name: "journalctl",
  why: "the journalctl and dmesg actions fall back to /dev/kmsg or record the failure",
};

export const journalctl = defineAction({
  name: "journalctl",
  file: "journalctl.log",
  what: "systemd journal for the lookback period",
  binaries: [JOURNALCTL],
  run: async (ctx) =>
    hasJournal()
      ? captureCommand(["journalctl", "--since", since(ctx), "--no-pager", "-o", "short-iso-precise"], ctx)
      : { data: enc("no systemd journal on this host\n"), truncated: false, note: "no journald", exitStatus: 1 },
});
