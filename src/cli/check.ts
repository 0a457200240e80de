import { defineCommand } from "citty";
import { runChecks } from "../check/checks";
import { loadConfig } from "../registry";
import { configArg, examples, jsonArg } from "./_shared";

const MARK = { ok: "ok  ", warn: "WARN", fail: "FAIL", info: "--  " } as const;

export default defineCommand({
  meta: {
    name: "check",
    description:
      "Check that this host can run aod: root, BPF, ring buffer, BTF, tracefs (mounted if missing), cifs, the attach points, helper tools, output dir, embedded library versions. Exit 0 when `aod run` can work, 1 otherwise." +
      examples("sudo aod check", "sudo aod check --json | jq '.checks[] | select(.status != \"ok\")'"),
  },
  args: { ...configArg, ...jsonArg },
  async run({ args }) {
    const config = loadConfig(args.config);
    const extra: import("../check/checks").Check[] = [];
    const { ok, results } = await runChecks(config, extra);
    if (args.json) console.log(JSON.stringify({ ok, checks: results }, null, 2));
    else {
      const w = Math.max(...results.map((r) => r.name.length));
      for (const r of results) console.log(`${MARK[r.status]}  ${r.name.padEnd(w)}  ${r.detail}`);
      console.log(
        ok ? "\naod run can work on this host." : "\naod run cannot work on this host: fix the FAIL lines above.",
      );
    }
    process.exitCode = ok ? 0 : 1;
  },
});
