// What a kind of verbose window is: the kernel knobs it raises, and how their
// previous values are read, raised, recorded and put back. cifs.ts
// (cifs_verbose) and sunrpc.ts (nfs_verbose) are the kinds; session.ts,
// leftovers.ts and window.ts run either. Each kind has a state file and a
// session of its own, so windows of different kinds never touch each other's
// knobs or records, and overlapping windows of one kind share one raise.

/** What every kind's paths have; tests pass temp files for the kernel's. */
export interface KindPaths {
  /** Where the previous values are recorded while the window is open. */
  stateFile: string;
  /** The kernel log device. */
  kmsg: string;
}

/** The fields every record has; a kind adds its previous values (V). */
export interface RecordBase {
  version: 1;
  pid: number;
  raised_at: string;
}

/**
 * A kind of window. P: its paths; V: the previous values it records (a null
 * value was not raised, and is not restored); Pre: what prepare() read for
 * raising. Method syntax on purpose: the session keeps kinds of any P, V, Pre.
 */
export interface VerboseKind<P extends KindPaths, V extends object, Pre> {
  /** The action's name, for the output and the messages. */
  readonly action: string;
  /** What the window does, for the output's first line ("# <action>: <what> for N s after the anomaly, …"). */
  readonly what: string;
  /** What raising needs; an error (the knobs are not there at all: nothing is changed, nothing recorded). */
  prepare(paths: P): { pre: Pre } | { error: string };
  /** The previous values, recorded before anything is raised; a value left alone is null, with a note in `notes`. */
  before(paths: P, pre: Pre, notes: string[]): V;
  /**
   * Raises each knob that has a previous value; what was done goes to
   * `raised`. Returns the values with the knobs that failed set to null, how
   * many were tried and how many failed (all of them: nothing changed).
   */
  raise(values: V, paths: P, pre: Pre, raised: string[]): { values: V; tried: number; failed: number };
  /** Puts recorded values back; what was done, and what failed. */
  restore(values: V, paths: P): { done: string[]; errors: string[] };
  /** The kind's values of a record read back, checked before any of it reaches the kernel; undefined when invalid. */
  parse(record: Record<string, unknown>): V | undefined;
}
