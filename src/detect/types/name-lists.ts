// The track/exclude lists a type selects names with (errnos, connection
// kinds, ...), and what `mode` makes of them: trackonly keeps the tracked
// names, all and excludeonly keep every name but the excluded ones.
import { pathString } from "../../config/path";
import type { CompileContext } from "../../config/spec";

export interface NameLists {
  /** The keys, e.g. track_codes and exclude_codes. */
  trackKey: string;
  excludeKey: string;
  track: readonly string[];
  exclude: readonly string[];
  /** Every name the lists may hold. */
  all: readonly string[];
  /** A name's id, or undefined when it is unknown. */
  id(name: string): number | undefined;
  /** The message for an unknown name (with a suggestion). */
  unknown(name: string): string;
  /** What a name is, plural ("errnos"), for "no … left to track". */
  what: string;
}

/** The ids the lists select under ctx.mode (sorted), or undefined after reporting a problem. */
export function selectByMode(ctx: CompileContext, l: NameLists): number[] | undefined {
  const { at, mode } = ctx;
  const seen = new Set<string>();
  l.track.forEach((c, i) => {
    if (l.id(c) === undefined) ctx.problem([...at, l.trackKey, i], l.unknown(c));
    if (seen.has(c)) ctx.warn(`${pathString([...at, l.trackKey, i])}: ${c} is listed twice`);
    seen.add(c);
  });
  l.exclude.forEach((c, i) => {
    if (l.id(c) === undefined) ctx.problem([...at, l.excludeKey, i], l.unknown(c));
    else if (seen.has(c))
      ctx.problem([...at, l.excludeKey, i], `${c} is both tracked (${l.trackKey}) and excluded; keep it in one list`);
  });
  if (ctx.hasProblems()) return undefined;
  if (mode === "trackonly" && l.exclude.length) ctx.warn(`${pathString(at)}: mode trackonly ignores ${l.excludeKey}`);
  if (mode === "excludeonly" && l.track.length) ctx.warn(`${pathString(at)}: mode excludeonly ignores ${l.trackKey}`);
  let set: Set<number>;
  if (mode === "trackonly") set = new Set(l.track.map((c) => l.id(c)!));
  else {
    set = new Set(l.all.map((c) => l.id(c)!));
    for (const c of l.exclude) set.delete(l.id(c)!);
  }
  if (set.size === 0) {
    ctx.problem(at, `no ${l.what} is left to track (mode ${mode}); track at least one`);
    return undefined;
  }
  return [...set].sort((x, y) => x - y);
}
