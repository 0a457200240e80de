// `aod check --json` keys its rows by name: every row's name is unique (SMB and
// NFS both have tools that describe themselves, each under its own name).
import { expect, test } from "bun:test";
import { runChecks } from "../../src/check/checks";
import { parseConfigText } from "../../src/registry";

test("aod check's rows have unique names", async () => {
  const { results } = await runChecks(parseConfigText("", "empty.yaml"));
  const names = results.map((r) => r.name.trim());
  expect(names).toContain("NFS latency");
  expect(names).toContain("errors");
  expect(names).toContain("NFS errors");
  expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
});
