// The unit for a config snippet, and the lines it adds to the unit of an empty
// config: what the sandbox tests of metrics and upload compare.
import { unitText } from "../../src/install/unit";
import { parseConfigText } from "../../src/registry";

export const unitFor = (yaml: string) =>
  unitText(parseConfigText(`aod_output_dir: /var/log/aod\n${yaml}`, "t"), "/etc/aod/config.yaml", "/bin/true");

const base = unitFor("");

/** Lines of `u` (comments left out) that the empty config's unit lacks. */
export const addedLines = (u: string) => {
  const before = new Set(base.split("\n"));
  return u.split("\n").filter((l) => !before.has(l) && !l.startsWith("#"));
};
