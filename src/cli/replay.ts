import { readFileSync } from "node:fs";
import { defineCommand } from "citty";
import { fileShape } from "../config/validate";
import { jsonWithBigInts } from "../format/json";
import { log } from "../log";
import { loadConfig, parseConfigText } from "../registry";
import { errorCode, errorMessage, UsageError } from "../util/errors";
import { configArg, examples, jsonArg } from "./_shared";

export default defineCommand({
  meta: {
    name: "replay",
    description:
      "Run detection and collection on a recording of events (the JSON lines of `aod trace --record`/`--json`) instead of the kernel, to tune thresholds on yesterday's events. Windows and cooldowns follow the recorded times; no collection is ever dropped. Only `command` and `latency_ms` or `errno` are required per line." +
      examples(
        "aod replay events.jsonl --output /tmp/aod-replay --no-actions",
        "aod replay events.jsonl --config tuned.yaml --json | jq .bundle",
        `echo '{"command":"SMB2_READ","latency_ms":1500}' | aod replay - --output /tmp/r`,
      ),
  },
  args: {
    events: {
      type: "positional",
      required: true,
      description: "Recording (JSON lines); - for stdin",
      valueHint: "EVENTS.jsonl",
    },
    ...configArg,
    output: {
      type: "string",
      alias: "o",
      description: "Write bundles to DIR/batches instead of aod_output_dir",
      valueHint: "DIR",
    },
    actions: {
      type: "boolean",
      description: "Run the anomalies' actions",
      negativeDescription: "Bundles hold anomaly.json only (no logs collected)",
      default: true,
    },
    strict: { type: "boolean", description: "Refuse the whole recording if any line is malformed", default: false },
    ...jsonArg,
  },
  async run({ args }) {
    let config = loadConfig(args.config);
    if (args.output) {
      const output = args.output.startsWith("/") ? args.output : `${process.cwd()}/${args.output}`;
      config = parseConfigText(
        JSON.stringify({ ...fileShape(config), aod_output_dir: output }),
        `${config.source} with --output`,
      );
    }
    let text: string;
    try {
      text = args.events === "-" ? await Bun.stdin.text() : readFileSync(args.events, "utf8");
    } catch (e) {
      throw new UsageError(
        `cannot read ${args.events}: ${errorCode(e) === "ENOENT" ? "no such file" : errorMessage(e)}`,
      );
    }
    const { parseEventLines } = await import("../daemon/event-lines");
    const { replay, replayStartNs } = await import("../daemon/replay");
    const parsed = parseEventLines(text, replayStartNs());
    const name = args.events === "-" ? "stdin" : args.events;
    for (const e of parsed.errors.slice(0, 20)) console.error(`${name}:${e.line}: ${e.message}`);
    if (parsed.errors.length > 20) console.error(`… and ${parsed.errors.length - 20} more malformed lines`);
    if (parsed.errors.length && args.strict)
      throw new UsageError(`${parsed.errors.length} malformed line(s) in ${name}; nothing replayed (--strict)`);
    if (!parsed.lines.length) throw new UsageError(`${name}: no events to replay`);
    const { results, pipeline } = await replay(config, parsed, {
      noActions: !args.actions,
      onResult: ({ anomaly: a, bundle }) => {
        const when = new Date(Number(a.detectedAtNs / 1_000_000n)).toISOString();
        if (args.json)
          console.log(
            jsonWithBigInts({
              type: a.type,
              name: a.name,
              detected_at: when,
              detected_at_ns: a.detectedAtNs,
              reason: a.reason,
              count: a.count,
              triggers: a.triggers.length,
              repeats: a.repeats,
              bundle,
            }),
          );
        else console.log(`${when}  ${a.type.padEnd(7)} ${a.name}: ${a.reason}\n  -> ${bundle}`);
      },
    });
    const summary = `${parsed.lines.length} events replayed, ${parsed.errors.length} malformed lines skipped, ${results.length} anomalies, ${results.length} bundles in ${config.aod_output_dir}/batches`;
    if (args.json) log.info(summary);
    else console.error(summary);
    void pipeline;
  },
});
