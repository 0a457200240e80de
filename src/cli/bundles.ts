import { join } from "node:path";
import { defineCommand } from "citty";
import { toJson } from "../bundle/anomaly-json";
import { BATCHES } from "../bundle/output-dir";
import { listBundles, type OpenedBundle, openBundle } from "../bundle/read";
import { loadConfig } from "../registry";
import { errorCode, errorMessage, UsageError } from "../util/errors";
import { bundleFileArg, bundlePath, configArg, examples, jsonArg } from "./_shared";

const mb = (n: number) => `${(n / 1048576).toFixed(2)} MB`;

const show = defineCommand({
  meta: {
    name: "show",
    description:
      "Print a bundle's anomaly summary and its members, without unpacking it by hand." +
      examples(
        "aod bundles show /var/log/aod/batches/aod_quick_1764000000000000000.tar.zst",
        "aod bundles show aod_quick_1764000000000000000.tar.zst --json",
      ),
  },
  args: { ...bundleFileArg, ...configArg, ...jsonArg },
  async run({ args }) {
    const path = await bundlePath(args.file, args.config);
    let b: OpenedBundle;
    try {
      b = await openBundle(path);
    } catch (e) {
      throw new UsageError(
        `cannot open bundle ${path}: ${errorCode(e) === "ENOENT" ? "no such file" : errorMessage(e)}`,
      );
    }
    if (args.json) return console.log(toJson({ file: path, members: b.members, anomaly: b.anomaly }));
    const a = b.anomaly ?? {};
    console.log(
      `${path}\n  type:      ${a.type}\n  anomaly:   ${a.name}\n  detected:  ${a.detected_at}\n  reason:    ${a.reason}`,
    );
    console.log(
      `  counts:    ${a.counts?.in_window} in window, ${a.counts?.triggers} trigger events kept, repeats ${a.repeats_during_cooldown?.detections ?? 0} (${a.repeats_during_cooldown?.events ?? 0} events)`,
    );
    for (const t of (a.triggers ?? []).slice(0, 10)) {
      // NFS: the procedure with its version, the NFS status, and the export or its candidates.
      const command = t.nfs_version ? `v${t.nfs_version}:${t.command}` : t.command;
      const status = t.status ?? t.nfs_status ?? "";
      const cands = Array.isArray(t.share_candidates)
        ? `${t.server ?? ""} (one of: ${t.share_candidates.join(", ")})`
        : "";
      console.log(
        `    ${command} ${t.latency_ms !== undefined ? `${Number(t.latency_ms).toFixed(1)} ms` : ""}${t.errno ? ` ${t.errno} ${status}` : ""} pid ${t.pid ?? "?"} ${t.comm ?? ""} ${t.share ?? cands}`,
      );
    }
    console.log("  actions:");
    for (const r of a.actions ?? [])
      console.log(
        `    ${r.name.padEnd(12)} ${r.status.padEnd(8)} ${String(r.duration_ms).padStart(6)} ms ${String(r.bytes).padStart(9)} B${r.truncated ? " (truncated)" : ""}${r.error ? `  ${r.error}` : ""}${r.note ? `  (${r.note})` : ""}`,
      );
    console.log("  members:");
    for (const m of b.members) console.log(`    ${m.name.padEnd(20)} ${m.size} B`);
  },
});

const subCommands = {
  show: () => show,
  verify: () => import("./bundles-verify").then((m) => m.default),
  redact: () => import("./bundles-redact").then((m) => m.default),
};

export default defineCommand({
  meta: {
    name: "bundles",
    description:
      "List the diagnostics bundles in <aod_output_dir>/batches, newest first (time, type, anomaly, trigger count, size)." +
      examples(
        "aod bundles",
        "aod bundles --json",
        "aod bundles show <file>",
        "aod bundles verify <file>",
        "aod bundles redact <file> -o shared.tar.zst",
      ),
  },
  args: { ...configArg, ...jsonArg },
  subCommands,
  async run({ args, rawArgs }) {
    if (rawArgs.some((a) => Object.hasOwn(subCommands, a))) return; // handled by the subcommand
    const config = loadConfig(args.config);
    const dir = join(config.aod_output_dir, BATCHES);
    const rows = [];
    for (const b of listBundles(dir)) {
      const a = await openBundle(b.path)
        .then((o) => o.anomaly)
        .catch(() => undefined);
      rows.push({
        file: b.path,
        time: b.time,
        type: a?.type ?? "?",
        anomaly: a?.name ?? "?",
        triggers: a?.counts?.triggers ?? 0,
        bytes: b.size,
      });
    }
    if (args.json) return console.log(JSON.stringify(rows, null, 2));
    if (!rows.length) return console.log(`no bundles in ${dir}`);
    console.log(
      `${"time (UTC)".padEnd(24)}  ${"type".padEnd(8)}  ${"anomaly".padEnd(12)}  ${"triggers".padStart(8)}  ${"size".padStart(10)}  file`,
    );
    for (const r of rows)
      console.log(
        `${r.time.padEnd(24)}  ${r.type.padEnd(8)}  ${r.anomaly.padEnd(12)}  ${String(r.triggers).padStart(8)}  ${mb(r.bytes).padStart(10)}  ${r.file}`,
      );
  },
});
