// cifsFYI (/proc/fs/cifs/cifsFYI): the cifs client's own verbosity, a digit.
import { readFileSync } from "node:fs";
import { writeKnob } from "./knob";

/** cifsFYI while the window is open: CIFS_INFO | CIFS_RC | CIFS_TIMER. */
export const FYI_RAISED = "7";

/** A value /proc takes back: one digit. */
export const FYI_VALUE = /^[0-9]$/;

/** The value before raising; a note instead when it is not one /proc can be set back to. */
export function fyiBefore(path: string): { value: string } | { note: string } {
  const v = readFileSync(path, "utf8").trim();
  return FYI_VALUE.test(v)
    ? { value: v }
    : { note: `cifsFYI reads ${JSON.stringify(v)}, which /proc cannot set back: left alone` };
}

/** Raises cifsFYI; what was done, for the output. */
export function raiseFyi(path: string, before: string): string {
  writeFyi(path, FYI_RAISED);
  return `cifsFYI ${before} → ${FYI_RAISED}`;
}

export const writeFyi = writeKnob;
