// A config problem names where (key path, and line:col when known), what was
// found, what is allowed, and a suggestion for a near miss.
export interface Problem {
  path: string;
  message: string;
  line?: number;
  col?: number;
}

export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly source: string,
    readonly problems: Problem[],
  ) {
    super(formatProblems(source, problems));
    this.name = "ConfigError";
  }
}

export function formatProblems(source: string, problems: Problem[]): string {
  const head = `${source}: ${problems.length} problem${problems.length === 1 ? "" : "s"}`;
  const lines = problems.map((p) => {
    const where = p.line ? `${source}:${p.line}:${p.col ?? 1}` : source;
    return `  ${where}: ${p.path || "(top level)"}: ${p.message}`;
  });
  return [head, ...lines].join("\n");
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate, when it is close enough to be a typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toUpperCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toUpperCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const n = nearest(word, candidates);
  return n ? ` — did you mean ${n}?` : "";
}

/** "a, b, c" or, for long lists, the first few and a count. */
export function allowedList(items: readonly string[], max = 8): string {
  if (items.length <= max) return items.join(", ");
  return `${items.slice(0, max).join(", ")}, … (${items.length} in all)`;
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${String(v)}`;
}
