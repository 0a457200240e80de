// The last collection.syslog_lines lines of the system log file.
import { existsSync } from "node:fs";
import { enc, tailFile } from "../capture";
import { defineAction } from "../spec";

export const syslogs = defineAction({
  name: "syslogs",
  file: "syslogs.log",
  what: "last lines of /var/log/syslog or /var/log/messages",
  run: async (ctx) => {
    const file = ["/var/log/syslog", "/var/log/messages"].find((f) => existsSync(f));
    if (!file)
      return {
        data: enc("no /var/log/syslog or /var/log/messages\n"),
        truncated: false,
        note: "no syslog file",
        exitStatus: 1,
      };
    return tailFile(file, ctx.collection.syslog_lines, ctx);
  },
});
