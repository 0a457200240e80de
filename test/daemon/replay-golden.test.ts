// `aod replay` of a fixed recording gives the bundles the round-1 agent gave
// (commit 8970211, before the extension architecture): expected/*.json is its
// anomaly.json per bundle, without what depends on the run (collected_at, host,
// kernel, aod_version, the output dir). anomaly.json only grows: every field
// there must still be here, with the same value; new fields may be added.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openBundle } from "../../src/bundle/read";
import { needsBinary, ROOT, runAod, tempDir } from "../helpers";

const FIX = join(ROOT, "test/fixtures/replay");
/** JSON with integers beyond 2^53 kept exact (as strings). */
const parse = (text: string) => JSON.parse(text.replace(/(:\s*)(-?\d{16,})/g, '$1"$2"'));

describe("aod replay: the same bundles as before the extension architecture", () => {
  test("every anomaly.json field of the round-1 output, same value; same bundle names", async () => {
    if (needsBinary()) return;
    const out = tempDir();
    const r = runAod([
      "replay",
      join(FIX, "events.jsonl"),
      "--config",
      join(FIX, "config.yaml"),
      "--output",
      out,
      "--no-actions",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const expected = readdirSync(join(FIX, "expected")).sort();
    const written = readdirSync(join(out, "batches")).sort();
    expect(written).toEqual(expected.map((f) => f.replace(/\.json$/, ".tar.zst")));
    for (const f of expected) {
      const id = f.replace(/\.json$/, "");
      const b = await openBundle(join(out, "batches", `${id}.tar.zst`));
      expect(b.members.map((m) => m.name)).toEqual(["anomaly.json", "manifest.json"]);
      const anomaly = parse(await b.files.get("anomaly.json")!.text());
      expect(anomaly, id).toMatchObject(parse(readFileSync(join(FIX, "expected", f), "utf8")));
    }
  });
});
