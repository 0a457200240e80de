// JSON with bigints written as exact integers (time_ns and mid exceed 2^53).
export function jsonWithBigInts(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `__BIG__${v}` : v), indent).replace(
    /"__BIG__(-?\d+)"/g,
    "$1",
  );
}
