// What an action gets to do its work, and what it gives back.
import type { CollectionConfig } from "../config/schema";

export interface ActionContext {
  /** Wall-clock time of detection, epoch ms. */
  detectedAtMs: number;
  /** The `collection` config: an action reads its settings here (lookback_sec, syslog_lines, ...). */
  collection: CollectionConfig;
  /** Aborted when the action's time is up. */
  signal: AbortSignal;
  /** Bytes of output kept; the rest is dropped and marked truncated. */
  capBytes: number;
}

export interface ActionOutput {
  data: Uint8Array;
  truncated: boolean;
  /** Exit status of the command run, when there was one (0 = success). */
  exitStatus?: number;
  /** Why the output is partial or empty (e.g. smbinfo missing). */
  note?: string;
}

export type ActionFn = (ctx: ActionContext) => Promise<ActionOutput>;
