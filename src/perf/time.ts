// Timestamps the measuring commands write (always UTC) and read back.

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** `YYYY-MM-DD HH:MM:SS` in UTC, the monitor CSV's timestamp. */
export function formatSecondStamp(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** `YYYYMMDD_HHMMSS` in UTC, for default output file names. */
export function fileStamp(d: Date): string {
  return formatSecondStamp(d).replace(/-/g, "").replace(/:/g, "").replace(" ", "_");
}

/** ISO 8601 in UTC with milliseconds and a `Z`, the disk CSV's timestamp. */
export function formatIsoStamp(d: Date): string {
  return d.toISOString();
}

// Date and time separated by `T` or a space; optional fraction (any number of
// digits) and zone (`Z`, `±HH:MM`, `±HHMM`, `±HH`). A time without a zone is taken
// as UTC: only differences between rows of one file matter.
const STAMP_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Seconds since the epoch (with fraction) of a timestamp, or undefined if it is not one. */
export function parseTimestamp(text: string): number | undefined {
  const m = STAMP_RE.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = "0", frac = "", zone] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  let t = Date.UTC(Number(y), month - 1, day, hour, minute, second) / 1000;
  if (frac) t += Number(`0.${frac}`);
  if (zone && zone.toUpperCase() !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const offset = Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4) || "0") * 60;
    t -= sign * offset;
  }
  return t;
}
