// Where decoded event batches come from. The kernel's tools (./tool-source.ts), the
// test/benchmark load generator (./loadgen-source.ts) and replay all hand the
// detectors the same EventBatch, so detection never knows which one it is.

import { ClockOffset, type EventBatch } from "../format/event";
import { monotonicNs, realtimeNs } from "../native/libc";

export interface EventSource {
  readonly name: string;
  /** Converts the events' monotonic times to wall-clock epoch ns. */
  readonly clock: ClockOffset;
  /** Begins delivering batches. Resolves once attached (or waiting, e.g. for cifs). */
  start(onBatch: (b: EventBatch) => void): Promise<void>;
  /** Records dropped in the kernel because the ring was full, per tool name. */
  lost(): Record<string, bigint>;
  /** Per-command latency histograms of every command since attach, where the source keeps them. */
  histograms?(): import("./hist").CommandHistogram[];
  /** Per-share latency histograms since attach (metrics), where the source keeps them. */
  shareHistograms?(): import("./hist").ShareHistogram[];
  /** Config reload: the tools' new filters (tool name → merged filter), applied without detaching where possible. */
  reconfigure?(filters: Readonly<Record<string, unknown>>): void;
  /** One line for logs and `aod check`: what is attached, or what it waits for. */
  status(): string;
  /** Detaches everything and frees the ring; delivers what is still queued first. */
  close(): Promise<void>;
}

/** Offset from CLOCK_MONOTONIC (BPF's clock) to the wall clock, read once. */
export function currentClockOffset(): ClockOffset {
  const a = monotonicNs();
  const wall = realtimeNs();
  const b = monotonicNs();
  return new ClockOffset(wall - (a + b) / 2n);
}
