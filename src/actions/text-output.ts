// Text an action builds line by line under its output cap (ctx.capBytes):
// what does not fit is dropped whole and the output marked truncated. And a
// turn of the event loop for long synchronous /proc loops, so that the
// action's deadline (a timer that aborts ctx.signal) can fire during them.
import { enc } from "./capture";
import type { ActionOutput } from "./context";

export class TextOutput {
  private readonly parts: string[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly capBytes: number) {}

  /** Appends text (whole lines); false once the cap is reached (nothing more is kept). */
  add(text: string): boolean {
    if (this.truncated) return false;
    const n = Buffer.byteLength(text);
    if (this.bytes + n > this.capBytes) {
      this.truncated = true;
      return false;
    }
    this.parts.push(text);
    this.bytes += n;
    return true;
  }

  output(extra: Pick<ActionOutput, "note" | "exitStatus"> = {}): ActionOutput {
    const out: ActionOutput = { data: enc(this.parts.join("")), truncated: this.truncated };
    if (extra.note !== undefined) out.note = extra.note;
    if (extra.exitStatus !== undefined) out.exitStatus = extra.exitStatus;
    return out;
  }
}

/** Lets timers run (the action's deadline among them) during a long synchronous loop. */
export const breather = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A path or name printed on one line: control characters escaped. */
export const oneLine = (s: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
  s.replace(/[\u0000-\u001f\u007f\\]/g, (c) =>
    c === "\\" ? "\\\\" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
