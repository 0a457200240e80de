// docs/extending.md quotes real files: a code block whose info string names a
// file (```ts src/actions/builtin/stats.ts) must be that file's text, whole or
// in excerpts separated by a `// …` line, in the file's order. So the guide's
// code cannot drift from the code it explains.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const GUIDE = "docs/extending.md";
const ELISION = /^\s*\/\/ …$/;

interface Quote {
  file: string;
  line: number;
  segments: string[][];
}

function quotes(markdown: string): Quote[] {
  const out: Quote[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^```\w+ (\S+)$/.exec(lines[i]!);
    if (!m) continue;
    const q: Quote = { file: m[1]!, line: i + 1, segments: [[]] };
    for (i++; i < lines.length && lines[i] !== "```"; i++) {
      if (ELISION.test(lines[i]!)) q.segments.push([]);
      else q.segments.at(-1)!.push(lines[i]!);
    }
    q.segments = q.segments.filter((s) => s.length);
    out.push(q);
  }
  return out;
}

/** Where each segment starts in the file (in order), or the first that is not there. */
function locate(file: string[], segments: string[][]): { missing?: string[] } {
  let from = 0;
  for (const seg of segments) {
    let at = -1;
    for (let i = from; i + seg.length <= file.length && at < 0; i++) if (seg.every((l, k) => file[i + k] === l)) at = i;
    if (at < 0) return { missing: seg };
    from = at + seg.length;
  }
  return {};
}

describe(`${GUIDE} quotes real code`, () => {
  const all = quotes(readFileSync(join(ROOT, GUIDE), "utf8"));
  test("it quotes a quick action, an anomaly type and an event tool", () => {
    const files = all.map((q) => q.file);
    expect(files).toContain("src/actions/builtin/stats.ts");
    expect(files).toContain("test/extending/burst-type.ts");
    expect(files.some((f) => /^src\/tools\/\w+\.ts$/.test(f))).toBe(true);
    expect(files.some((f) => /^bpf\/\w+\.bpf\.c$/.test(f))).toBe(true);
  });
  for (const q of all)
    test(`${GUIDE}:${q.line} is ${q.file}`, () => {
      const file = readFileSync(join(ROOT, q.file), "utf8").split("\n");
      expect(locate(file, q.segments)).toEqual({});
    });
});
