// What a built-in action is: one object in its own file under ./builtin/, and
// one row in ./builtin/index.ts. A setting it needs is a key of the
// `collection` config, read from ctx.collection; an outside binary it runs is
// listed in `binaries`, and `aod check` reports on it.
import type { ActionContext, ActionOutput } from "./context";

export interface ActionBinary {
  /** The command looked up with findBinary() (src/host/which.ts). */
  name: string;
  /** What happens without it; `aod check` prints "not found: <why>". */
  why: string;
}

export interface ActionSpec {
  /** The name configs use (watcher.actions, an anomaly's actions). */
  name: string;
  /** The file it writes in a bundle. */
  file: string;
  /** One line for `aod` help and docs. */
  what: string;
  run(ctx: ActionContext): Promise<ActionOutput>;
  binaries?: readonly ActionBinary[];
}

/** Types an action's spec (and keeps its literal name). */
export const defineAction = <const S extends ActionSpec>(spec: S): S => spec;
