import { join } from "node:path";
import { defineCommand } from "citty";
import { loadConfig } from "../registry";
import { STATE_FILE, type UploadRowState, UploadState } from "../upload/state";
import { AodError, errorCode, errorMessage } from "../util/errors";
import { configArg, examples, jsonArg } from "./_shared";

const STATES: UploadRowState[] = ["queued", "uploading", "uploaded", "failed", "abandoned"];
const when = (ms?: string | number | null) => (ms ? new Date(Number(ms)).toISOString() : undefined);

export default defineCommand({
  meta: {
    name: "status",
    description:
      "Show the upload lane from its state database (<state_dir>/upload.db): per target the breaker, last success and last error, counts and bytes per state, and the bundles still waiting with their attempts and next try. Works while the daemon runs. " +
      "--json prints {state_db, configured_target, targets: [{target, breaker, breaker_since, last_success_at, last_error, last_error_at, counts: {queued|uploading|uploaded|failed|abandoned: {bundles, bytes}}, waiting: [{bundle, state, attempts, next_try_at, last_error}]}]}; times are ISO 8601 UTC, absent when unknown. Exit 0 when it could read the state, 1 when not." +
      examples("sudo aod upload status", "sudo aod upload status --json | jq '.targets[].counts.queued'"),
  },
  args: { ...configArg, ...jsonArg },
  run({ args }) {
    const config = loadConfig(args.config);
    const dbPath = join(config.state_dir, STATE_FILE);
    let st: UploadState;
    try {
      st = UploadState.open(config.state_dir, { readonly: true });
    } catch (e) {
      if (errorCode(e) === "EACCES" || /permission|readonly|unable to open/i.test(errorMessage(e)))
        throw new AodError(`cannot read ${dbPath}: ${errorMessage(e)} (it is root's: try sudo)`, 1);
      if (args.json)
        return console.log(
          JSON.stringify({ state_db: dbPath, configured_target: config.upload?.target ?? null, targets: [] }, null, 2),
        );
      console.log(
        config.upload
          ? `no uploads yet: ${dbPath} does not exist (the daemon creates it when it starts with upload configured)`
          : `upload is not configured in ${config.source}, and there is no upload state at ${dbPath}`,
      );
      return;
    }
    try {
      const targets = st.targets().map((t) => {
        const counts = Object.fromEntries(STATES.map((s) => [s, { bundles: 0, bytes: 0 }]));
        for (const c of st.counts(t)) counts[c.state] = { bundles: c.n, bytes: c.bytes };
        return {
          target: t,
          breaker: st.meta(t, "breaker") ?? "closed",
          breaker_since: when(st.meta(t, "breaker_since")),
          last_success_at: when(st.meta(t, "last_success_at")),
          last_error: st.meta(t, "last_error"),
          last_error_at: when(st.meta(t, "last_error_at")),
          counts,
          waiting: st.rows(t, ["queued", "uploading", "failed"], 50).map((r) => ({
            bundle: r.name,
            state: r.state,
            attempts: r.attempts,
            next_try_at: r.state === "queued" ? when(r.next_try_at) : undefined,
            last_error: r.last_error ?? undefined,
          })),
        };
      });
      if (args.json)
        return console.log(
          JSON.stringify({ state_db: dbPath, configured_target: config.upload?.target ?? null, targets }, null, 2),
        );
      if (!config.upload) console.log(`upload is not configured in ${config.source} (state of earlier uploads below)`);
      if (!targets.length) console.log("no bundles recorded yet");
      for (const t of targets) {
        console.log(`${t.target}`);
        console.log(`  breaker:      ${t.breaker}${t.breaker_since ? ` since ${t.breaker_since}` : ""}`);
        console.log(`  last success: ${t.last_success_at ?? "never"}`);
        if (t.last_error) console.log(`  last error:   ${t.last_error_at} ${t.last_error}`);
        console.log(
          `  bundles:      ${STATES.map((s) => `${t.counts[s]!.bundles} ${s}`).join(", ")} (${(t.counts.uploaded!.bytes / 1048576).toFixed(2)} MB uploaded)`,
        );
        for (const w of t.waiting.slice(0, 10))
          console.log(
            `    ${w.bundle}  ${w.state}, ${w.attempts} attempt${w.attempts === 1 ? "" : "s"}${w.next_try_at ? `, next ${w.next_try_at}` : ""}${w.last_error ? `  ${w.last_error}` : ""}`,
          );
        if (t.waiting.length > 10) console.log(`    … ${t.waiting.length - 10} more (--json lists up to 50)`);
      }
    } finally {
      st.close();
    }
  },
});
