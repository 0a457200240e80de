// The kernel log for the lookback period: journalctl -k, or /dev/kmsg on hosts
// without journald.
import { captureCommand } from "../capture";
import { readKmsg } from "../kmsg";
import { defineAction } from "../spec";
import { hasJournal, JOURNALCTL, since } from "./journalctl";

export const dmesg = defineAction({
  name: "dmesg",
  file: "dmesg.log",
  what: "kernel log for the lookback period (journalctl -k, or /dev/kmsg)",
  // aod never runs dmesg(1); `aod check` has always reported it, saying so.
  binaries: [JOURNALCTL, { name: "dmesg", why: "kernel log is read from journalctl -k or /dev/kmsg instead" }],
  run: async (ctx) =>
    hasJournal()
      ? captureCommand(["journalctl", "-k", "--since", since(ctx), "--no-pager", "-o", "short-iso-precise"], ctx)
      : readKmsg(ctx),
});
