// aod's log: readable lines on a TTY, JSON lines otherwise (journald-friendly),
// on stderr. Level from $AOD_LOG_LEVEL (debug, info, warn, error; default info).
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type Level = keyof typeof LEVELS;

let threshold: number = LEVELS[(process.env.AOD_LOG_LEVEL?.toLowerCase() as Level) ?? "info"] ?? LEVELS.info;
const tty = process.stderr.isTTY === true;
const sink = (line: string) => process.stderr.write(`${line}\n`);

export function setLogLevel(l: Level): void {
  threshold = LEVELS[l];
}

function emit(level: Level, msg: string, fields?: Record<string, unknown>): void {
  if (LEVELS[level] < threshold) return;
  const time = new Date().toISOString();
  if (tty) {
    const extra = fields
      ? Object.entries(fields)
          .map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join("")
      : "";
    sink(`${time} ${level.toUpperCase().padEnd(5)} ${msg}${extra}`);
  } else {
    sink(JSON.stringify({ time, level, msg, ...fields }, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
  }
}

export const log = {
  debug: (m: string, f?: Record<string, unknown>) => emit("debug", m, f),
  info: (m: string, f?: Record<string, unknown>) => emit("info", m, f),
  warn: (m: string, f?: Record<string, unknown>) => emit("warn", m, f),
  error: (m: string, f?: Record<string, unknown>) => emit("error", m, f),
};
