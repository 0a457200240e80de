// Coverage probe for the VM (test/vm/scenarios/02-trace.sh), not a bun test:
//   bun test/tools/smb-coverage.ts HOOKS 'workload shell command'
// Attaches SmbSource with the given hook variant, every command and errno
// tracked, runs the workload, and prints one JSON line comparing what aod saw
// with what the kernel counted (/proc/fs/cifs/Stats, SMB3 CMD Number).
import { ERRNO_TABLE } from "../../src/format/errno-names";
import { SMB2_COMMAND_COUNT, smb2CommandName } from "../../src/format/smb2-commands";
import { readCmdStats } from "../../src/host/cifs-stats";
import type { HookVariant } from "../../src/tools/attach-plan";
import { smbCounters } from "../../src/tools/smbslower";
import { ToolSource } from "../../src/tools/tool-source";

const [hooks, workload] = process.argv.slice(2);
if (!hooks || !workload) {
  console.error("usage: smb-coverage.ts fentry|kprobe|tracepoint 'shell command'");
  process.exit(2);
}
const src = new ToolSource(
  "smb",
  {
    smbslower: { thresholdsMs: new Array(SMB2_COMMAND_COUNT).fill(0) },
    smbiosnoop: { errnos: ERRNO_TABLE.map(([, n]) => n) },
  },
  {
    hooks: [hooks as HookVariant],
    pollMs: 500,
  },
);
let events = 0;
const byTool = [0, 0];
const errors: Record<string, number> = {};
await src.start((b) => {
  events += b.count;
  for (let i = 0; i < b.count; i++) {
    byTool[b.tool[i]!]!++;
    if (b.tool[i] === 1) {
      const k = `${smb2CommandName(b.command[i]!)}:${-b.rc[i]!}`;
      errors[k] = (errors[k] ?? 0) + 1;
    }
  }
});
const out: Record<string, unknown> = {
  hooks,
  attached: src.attached,
  variant: src.variant,
  status: src.status(),
  release: src.detail,
  attempts: src.attempts,
};
if (!src.attached) {
  console.log(JSON.stringify(out));
  await src.close();
  process.exit(1);
}
const before = readCmdStats();
const t0 = performance.now();
const r = Bun.spawnSync(["bash", "-c", workload], { stdout: "ignore", stderr: "pipe" });
out.workloadSeconds = (performance.now() - t0) / 1000;
out.workloadRc = r.exitCode;
await Bun.sleep(1500); // let the last responses arrive and their mids be released
const after = readCmdStats();
const hist = src.histograms();
const counters = smbCounters(src.object("smbslower")!);
await Bun.sleep(300);
const seenByCmd = new Array(SMB2_COMMAND_COUNT).fill(0);
for (const h of hist) seenByCmd[h.id] = h.count;
const kernelByCmd = before && after ? after.map((n, i) => n - before[i]!) : undefined;
const kernel = kernelByCmd?.reduce((a, b) => a + b, 0);
const seen = seenByCmd.reduce((a, b) => a + b, 0);
Object.assign(out, {
  kernelCommands: kernel,
  measured: seen,
  coverage: kernel ? seen / kernel : null,
  perCommand: Object.fromEntries(
    seenByCmd
      .map((n, i) => [smb2CommandName(i), { seen: n, kernel: kernelByCmd?.[i] }])
      .filter(([, v]) => typeof v === "object" && (v.seen || v.kernel)),
  ),
  counters: Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, Number(v)])),
  events,
  latencyEvents: byTool[0],
  errorEvents: byTool[1],
  errors,
  lost: Object.fromEntries(Object.entries(src.lost()).map(([k, v]) => [k, Number(v)])),
  reader: src.readerStats(),
});
await src.close();
console.log(JSON.stringify(out));
