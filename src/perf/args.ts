// Checks of the numeric arguments shared by `aod monitor` and `aod disk`.
import { UsageError } from "../cli/errors";

export function positiveSeconds(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined || text === "") return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${name} must be a number of seconds above 0, not "${text}"`);
  return v;
}

export function minutesArg(text: string | undefined, fallback: number | undefined, name: string): number | undefined {
  if (text === undefined || text === "") return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0)
    throw new UsageError(`${name} must be a number of minutes, 0 or more, not "${text}"`);
  return v;
}
