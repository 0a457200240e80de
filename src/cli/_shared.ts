// Argument sets shared by several commands.
import type { ArgsDef } from "citty";

export const configArg = {
  config: {
    type: "string",
    alias: "c",
    description: "Config file (default: $AOD_CONFIG, then /etc/aod/config.yaml, then the embedded default)",
    valueHint: "FILE",
  },
} as const satisfies ArgsDef;

export const jsonArg = {
  json: { type: "boolean", description: "Print JSON instead of text", default: false },
} as const satisfies ArgsDef;

/** Help text epilogue: examples, one per line. */
export function examples(...lines: string[]): string {
  return `\n\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}`;
}
