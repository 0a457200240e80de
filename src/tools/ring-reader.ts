// Reads a BPF ring buffer by mapping it into this process and walking the
// records from JS: no libbpf callback per event (measured: the cheapest way),
// no copies but the one into the batch.
//
// Waiting costs nothing when idle: a waiter thread (ring-waiter.ts) blocks in
// epoll_wait() on the map fd and calls back once when data is there. The main
// thread drains the ring and hands batches on; while data
// keeps coming it polls itself and re-arms the waiter only once a poll finds
// nothing (measured: wakeups, not events, are what costs CPU). The first
// record after a quiet spell is read at once (the waiter), and so is a burst;
// while a stream goes on, the poll interval doubles from `lagMs` up to
// `maxLagMs` as long as each interval fills less than 1/8 of the ring, so a
// steady trickle costs ~25 wakeups per second instead of 1000/lagMs, and a
// fast stream keeps the short interval (no drops).
//
// The data area is mapped once, not twice as the kernel allows (the second
// mapping makes records contiguous across the end): it is resident in full,
// so the mirror would double its RSS. The rare record that wraps is copied.
import { type Pointer, toArrayBuffer } from "bun:ffi";
import { EVENT_SIZE, EventBatch, MAX_TAIL } from "../format/event";
import { NativeError } from "../native/errors";
import type { BpfMap } from "../native/libbpf";
import { errno, libc } from "../native/libc";
import { openRingWaiter, type RingWaiter } from "./ring-waiter";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;

export interface RingReaderOptions {
  /** Records per batch handed to onBatch. */
  batchSize?: number;
  /** After a drain that found records, poll again this soon (ms; 0: wait for the waiter). */
  lagMs?: number;
  /** While records keep coming, the interval doubles up to this (ms): the most an event of a stream waits. */
  maxLagMs?: number;
}

export class RingReader {
  private readonly consumerPtr: Pointer;
  private readonly producerPtr: Pointer;
  private readonly consumerPos: BigUint64Array; // RW page: we store our position
  private readonly producerPos: BigUint64Array; // RO page: plain loads only (no Atomics on RO maps)
  private readonly data: Uint8Array;
  private readonly dataView: DataView;
  private readonly mask: number;
  private readonly pageSize: number;
  private readonly size: number;
  private readonly batch: EventBatch;
  /** A record that wraps around the end of the data area, made contiguous. */
  private readonly wrapped = new Uint8Array(EVENT_SIZE + MAX_TAIL);
  private readonly wrappedView = new DataView(this.wrapped.buffer);
  private waiter?: RingWaiter;
  private closed = false;
  private rearmTimer?: ReturnType<typeof setTimeout>;
  private lag = 0;
  /** Drains run (wakeups of the main thread), for benchmarks. */
  drains = 0;
  /** Records read since start. */
  records = 0;
  /** Records skipped because their size was not an aod_event. */
  malformed = 0;

  constructor(
    private readonly map: BpfMap,
    private readonly onBatch: (b: EventBatch) => void,
    private readonly opts: RingReaderOptions = {},
  ) {
    this.pageSize = libc.getpagesize();
    this.size = map.maxEntries;
    this.mask = this.size - 1;
    const fd = map.fd;
    const cons = libc.mmap(null, BigInt(this.pageSize), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (!cons || (cons as unknown as number) === -1)
      throw new NativeError(`mmap consumer page of ${map.name}`, errno());
    // Producer page, then the data area (once: see above).
    const prod = libc.mmap(null, BigInt(this.pageSize + this.size), PROT_READ, MAP_SHARED, fd, BigInt(this.pageSize));
    if (!prod || (prod as unknown as number) === -1) {
      libc.munmap(cons, BigInt(this.pageSize));
      throw new NativeError(`mmap data of ${map.name}`, errno());
    }
    this.consumerPtr = cons;
    this.producerPtr = prod;
    this.consumerPos = new BigUint64Array(toArrayBuffer(cons, 0, 8));
    this.producerPos = new BigUint64Array(toArrayBuffer(prod, 0, 8));
    const dataBuf = toArrayBuffer(prod, this.pageSize, this.size);
    this.data = new Uint8Array(dataBuf);
    this.dataView = new DataView(dataBuf);
    this.batch = new EventBatch(opts.batchSize ?? 4096);
  }

  /** Reads every committed record now; returns how many. Synchronous. */
  drain(): number {
    let cons = Number(this.consumerPos[0]!);
    const prod = Number(this.producerPos[0]!);
    const b = this.batch;
    let n = 0;
    while (cons < prod) {
      const off = cons & this.mask;
      const len = this.dataView.getUint32(off, true);
      if (len & BUSY) break; // reserved, not yet submitted
      const size = len & ~(BUSY | DISCARD);
      if (!(len & DISCARD)) {
        if (size >= EVENT_SIZE && size <= EVENT_SIZE + MAX_TAIL) {
          // The 8-byte header never wraps (records are 8-aligned); the body may.
          let view = this.dataView;
          let bytes = this.data;
          let at = off + HDR;
          if (at + size > this.size) {
            const first = this.size - at;
            this.wrapped.set(this.data.subarray(at), 0);
            this.wrapped.set(this.data.subarray(0, size - first), first);
            view = this.wrappedView;
            bytes = this.wrapped;
            at = 0;
          }
          if (size === EVENT_SIZE) b.push(view, bytes, at);
          else b.pushWithTail(view, bytes, at, size);
          if (b.count === b.capacity) this.flush();
        } else this.malformed++;
        n++;
      }
      cons += (size + HDR + 7) & ~7;
    }
    this.consumerPos[0] = BigInt(cons); // x86 stores are ordered: a plain store publishes it
    this.flush();
    this.records += n;
    return n;
  }

  private flush(): void {
    if (this.batch.count === 0) return;
    try {
      this.onBatch(this.batch);
    } finally {
      this.batch.clear();
    }
  }

  /** Starts waiting for data in the background; batches arrive through onBatch. */
  start(): void {
    if (this.waiter) return;
    this.waiter = openRingWaiter(this.map.fd, () => {
      if (!this.closed) this.pump();
    });
    this.drain();
    this.arm();
  }

  /**
   * Drains, and while drains find records keeps polling on this thread every
   * lagMs: under load no cross-thread message per drain, just a timer. The
   * waiter is re-armed only after a poll found nothing (idle costs nothing).
   */
  private pump(): void {
    if (this.closed) return;
    this.drains++;
    const n = this.drain();
    const min = this.opts.lagMs ?? 5;
    if (n > 0 && min > 0) {
      // A fast stream keeps the short interval: the ring must never fill while we wait
      // (measured: a 40 ms wait at 1M events/s overflows the 4 MiB ring).
      const filled = (n * (EVENT_SIZE + HDR)) / this.size;
      this.lag = !this.lag || filled > 1 / 8 ? min : Math.min(this.lag * 2, this.opts.maxLagMs ?? 40);
      this.rearmTimer = setTimeout(() => this.pump(), this.lag);
    } else {
      this.lag = 0;
      this.arm();
    }
  }

  private arm(): void {
    if (!this.closed) this.waiter?.arm();
  }

  /** Stops the waiter, drains what is left, unmaps the ring. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.rearmTimer);
    await this.waiter?.close();
    this.drain();
    libc.munmap(this.producerPtr, BigInt(this.pageSize + this.size));
    libc.munmap(this.consumerPtr, BigInt(this.pageSize));
  }
}
