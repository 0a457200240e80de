import { defineCommand } from "citty";
import { stringify } from "yaml";
import { type Config, fileShape } from "../config/validate";
import { anomalyTypeOf } from "../detect/types";
import { loadConfig } from "../registry";
import { configArg, examples, jsonArg } from "./_shared";

function summary(c: Config): string {
  const rules = c.rules.map((r) => anomalyTypeOf(r).summary(r, c.watch_interval_sec));
  const m = c.metrics;
  const metrics = m
    ? `; metrics ${[m.listen && `on ${m.listen}`, m.textfile && `to ${m.textfile.path}`].filter(Boolean).join(" and ")}`
    : "";
  return `${rules.length} anomalies: ${rules.join(", ") || "none"}; output ${c.aod_output_dir}${metrics}`;
}

const validate = defineCommand({
  meta: {
    name: "validate",
    description:
      "Check a config file and print `ok` with a summary, or every problem (key path, line, what is allowed). Exit 2 on problems." +
      examples(
        "aod config validate /etc/aod/config.yaml",
        "aod config validate            # the file aod run would use",
      ),
  },
  args: {
    file: {
      type: "positional",
      required: false,
      description: "Config file (default: the one aod run would use)",
      valueHint: "FILE",
    },
    ...configArg,
  },
  run({ args }) {
    const c = loadConfig(args.file || args.config);
    for (const w of c.warnings) console.error(`warning: ${w}`);
    console.log(`ok: ${c.source}: ${summary(c)}`);
  },
});

const show = defineCommand({
  meta: {
    name: "show",
    description:
      "Print the effective config with every default filled in (YAML, or JSON with --json)." +
      examples("aod config show", "aod config show --config my.yaml --json"),
  },
  args: { ...configArg, ...jsonArg },
  run({ args }) {
    const c = loadConfig(args.config);
    for (const w of c.warnings) console.error(`warning: ${w}`);
    const shape = fileShape(c);
    if (args.json) console.log(JSON.stringify(shape, null, 2));
    else process.stdout.write(`# effective config from ${c.source}\n${stringify(shape)}`);
  },
});

export default defineCommand({
  meta: { name: "config", description: "Validate or show the configuration" },
  subCommands: { validate: () => validate, show: () => show },
});
