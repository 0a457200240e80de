// Waits for a BPF ring buffer to have data without holding the main thread:
// something must block in epoll_wait() so that an idle aod costs no wakeup.
//
// Preferred: a native thread, compiled at start by Bun's built-in TinyCC from
// the C below (no compiler on the host needed; ~5 ms), that calls back into
// the event loop through a thread-safe JSCallback. It costs a thread stack and
// a few KB. Fallback, where compiling at run time is refused (no writable
// temp dir, W^X policies): a Worker doing the same in JS, which costs a second
// JavaScriptCore VM (measured ≈ 6–9 MB of RSS).
//
// Both follow one protocol: arm() lets the waiter report once; it then waits
// in epoll_wait on the ring (level-triggered: readable while records are
// unread) and an eventfd that close() writes; when the ring is readable it
// calls onReady() and waits to be armed again.
import { cc, JSCallback, type Pointer } from "bun:ffi";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { log } from "../log";
import { NativeError } from "../native/errors";
import { symbolAddress } from "../native/ffi";
import { errno, libc, pthread } from "../native/libc";
import { errorMessage } from "../util/errors";

export interface RingWaiter {
  readonly kind: "thread" | "worker";
  /** Report the next time the ring has data (once). */
  arm(): void;
  /** Stops the waiter; resolves when it is gone (or after a second). */
  close(): Promise<void>;
}

const EPOLLIN = 1;
const EPOLL_CTL_ADD = 1;
const CLOEXEC = 0x80000; // EPOLL_CLOEXEC = EFD_CLOEXEC

// Self-contained: no #include and no symbol to link (hosts have neither C
// headers nor libc.so for a linker; -nostdlib). The libc functions it calls
// come in as pointers that bun:ffi resolved.
const WAITER_C = `
typedef unsigned long pthread_t;
struct libc {
	long (*read)(int, void *, unsigned long);
	int (*epoll_wait)(int, void *, int, int);
	void *(*calloc)(unsigned long, unsigned long);
	int (*pthread_create)(pthread_t *, void *, void *(*)(void *), void *);
	int (*pthread_detach)(pthread_t);
	void (*free)(void *);
};

struct waiter {
	int ep, armfd;
	volatile int stop;
	void (*notify)(int);
	struct libc c;
};

static void *loop(void *p) {
	struct waiter *w = p;
	unsigned long long v;
	char evs[48];
	for (;;) {
		long r = w->c.read(w->armfd, &v, 8);
		if (w->stop)
			break;
		if (r != 8)
			continue; /* EINTR */
		int n = w->c.epoll_wait(w->ep, evs, 4, -1);
		if (w->stop)
			break;
		if (n > 0)
			w->notify(1);
	}
	void (*notify)(int) = w->notify;
	void (*release)(void *) = w->c.free;
	release(w);
	notify(0); /* last: JS closes the fds and the callback once this arrives */
	return 0;
}

void *aod_waiter_start(int ep, int armfd, void *notify, struct libc *c) {
	struct waiter *w = c->calloc(1, sizeof *w);
	pthread_t t;
	if (!w)
		return 0;
	w->ep = ep;
	w->armfd = armfd;
	w->notify = notify;
	w->c = *c;
	if (w->c.pthread_create(&t, 0, loop, w)) {
		w->c.free(w);
		return 0;
	}
	w->c.pthread_detach(t);
	return w;
}

void aod_waiter_stop(struct waiter *w) { w->stop = 1; }
`;

/** struct libc for the C waiter: the addresses of the functions it calls, in its order. */
function libcTable(): BigUint64Array {
  const fns = [libc.read, libc.epoll_wait, libc.calloc, pthread.pthread_create, pthread.pthread_detach, libc.free];
  return new BigUint64Array(fns.map(symbolAddress));
}

interface NativeWaiterLib {
  aod_waiter_start: (ep: number, armfd: number, notify: Pointer, libc: BigUint64Array) => Pointer | null;
  aod_waiter_stop: (w: Pointer) => void;
}
let compiled: NativeWaiterLib | null | undefined;
/** Why the native waiter is unavailable, once nativeLib() failed. */
let nativeError = "";

/** Compiles the C waiter once per process; null when this host refuses it. */
function nativeLib(): NativeWaiterLib | null {
  if (compiled !== undefined) return compiled;
  let dir: string | undefined;
  const tmp = process.env.TMPDIR;
  try {
    dir = mkdtempSync(join(tmpdir(), "aod-waiter-")); // 0700
    const src = join(dir, "waiter.c");
    writeFileSync(src, WAITER_C, { mode: 0o600 });
    // Bun's cc unpacks its own headers into $TMPDIR/bun-cc-<uid>: into our private dir, not a shared /tmp.
    process.env.TMPDIR = dir;
    const { symbols } = cc({
      source: src,
      flags: "-nostdlib",
      symbols: {
        aod_waiter_start: { args: ["i32", "i32", "ptr", "ptr"], returns: "ptr" },
        aod_waiter_stop: { args: ["ptr"], returns: "void" },
      },
    });
    compiled = symbols as unknown as NativeWaiterLib;
  } catch (e) {
    nativeError = errorMessage(e);
    log.info("native ring waiter unavailable; waiting in a Worker instead", { error: nativeError });
    compiled = null;
  } finally {
    if (tmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmp;
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  return compiled;
}

/** The epoll set both waiters block on: the ring's fd and an eventfd that close() writes. */
function epollOn(ringFd: number): { ep: number; stopFd: number } {
  const ep = libc.epoll_create1(CLOEXEC);
  if (ep < 0) throw new NativeError("epoll_create1", errno());
  const stopFd = libc.eventfd(0, CLOEXEC);
  if (stopFd < 0) {
    const e = errno();
    libc.close(ep);
    throw new NativeError("eventfd", e);
  }
  for (const fd of [ringFd, stopFd]) {
    const ev = new Uint8Array(12);
    new DataView(ev.buffer).setUint32(0, EPOLLIN, true);
    if (libc.epoll_ctl(ep, EPOLL_CTL_ADD, fd, ev) !== 0) {
      const e = errno();
      libc.close(ep);
      libc.close(stopFd);
      throw new NativeError("epoll_ctl", e);
    }
  }
  return { ep, stopFd };
}

/** Resolves when `done` is called, or after a second: a stuck waiter must not hold up exit. */
function untilDone(): { done: () => void; promise: Promise<boolean> } {
  let done!: () => void;
  const promise = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 1000);
    done = () => {
      clearTimeout(timer);
      resolve(true);
    };
  });
  return { done, promise };
}

function nativeWaiter(lib: NativeWaiterLib, ringFd: number, onReady: () => void): RingWaiter | null {
  const { ep, stopFd } = epollOn(ringFd);
  const armFd = libc.eventfd(0, CLOEXEC);
  let exited: (() => void) | undefined;
  const cb = new JSCallback((k: number) => (k ? onReady() : exited?.()), {
    args: ["i32"],
    returns: "void",
    threadsafe: true,
  });
  const w = armFd < 0 || !cb.ptr ? null : lib.aod_waiter_start(ep, armFd, cb.ptr, libcTable());
  if (!w) {
    cb.close();
    for (const fd of [ep, stopFd, armFd]) if (fd >= 0) libc.close(fd);
    return null;
  }
  return {
    kind: "thread",
    arm: () => void libc.eventfd_write(armFd, 1n),
    async close() {
      const { done, promise } = untilDone();
      exited = done;
      lib.aod_waiter_stop(w);
      libc.eventfd_write(armFd, 1n);
      libc.eventfd_write(stopFd, 1n);
      // Until the thread said it exits it may still use the fds and call back: a stuck
      // one keeps them (a leak, not a crash or a read from a reused fd).
      if (!(await promise)) {
        log.warn("the ring waiter thread did not exit within 1 s; leaving it");
        return;
      }
      cb.close();
      for (const fd of [ep, stopFd, armFd]) libc.close(fd);
    },
  };
}

// The Worker's code: it only knows the fds and a shared flag.
const WAITER_JS = `
import { dlopen, FFIType } from "bun:ffi";
const { symbols: c } = dlopen("libc.so.6", {
  epoll_wait: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
});
self.onmessage = ({ data: { ep, flag } }) => {
  const state = new Int32Array(flag); // [0] 1 = armed, 0 = wait, 2 = stop
  const out = new Uint8Array(12 * 4);
  for (;;) {
    Atomics.wait(state, 0, 0);
    if (Atomics.load(state, 0) === 2) break;
    if (c.epoll_wait(ep, out, 4, -1) > 0 && Atomics.compareExchange(state, 0, 1, 0) === 1) postMessage(1);
    if (Atomics.load(state, 0) === 2) break;
  }
  postMessage(0);
};
`;

function workerWaiter(ringFd: number, onReady: () => void): RingWaiter {
  const { ep, stopFd } = epollOn(ringFd);
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const url = URL.createObjectURL(new Blob([WAITER_JS], { type: "application/typescript" }));
  const worker = new Worker(url, { smol: true } as WorkerOptions);
  let exited: (() => void) | undefined;
  worker.onmessage = ({ data }) => (data === 1 ? onReady() : exited?.());
  worker.postMessage({ ep, flag: flag.buffer });
  return {
    kind: "worker",
    arm() {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    },
    async close() {
      const { done, promise } = untilDone();
      exited = done;
      Atomics.store(flag, 0, 2);
      Atomics.notify(flag, 0);
      libc.eventfd_write(stopFd, 1n);
      await promise;
      worker.terminate();
      libc.close(ep);
      libc.close(stopFd);
    },
  };
}

/** Which waiter this process uses; AOD_RING_WAITER=worker forces the fallback (tests). */
export function openRingWaiter(ringFd: number, onReady: () => void): RingWaiter {
  const lib = process.env.AOD_RING_WAITER === "worker" ? null : nativeLib();
  return (lib && nativeWaiter(lib, ringFd, onReady)) ?? workerWaiter(ringFd, onReady);
}

/** For `aod check`: which waiter this host gets, proven on an eventfd (arm, signal, callback, close). */
export async function probeRingWaiter(): Promise<{ kind: RingWaiter["kind"]; works: boolean; why: string }> {
  const fd = libc.eventfd(0, CLOEXEC);
  if (fd < 0) throw new NativeError("eventfd", errno());
  let ready!: () => void;
  const called = new Promise<boolean>((resolve) => {
    ready = () => resolve(true);
    setTimeout(() => resolve(false), 1000);
  });
  try {
    const w = openRingWaiter(fd, () => ready());
    w.arm();
    libc.eventfd_write(fd, 1n);
    const works = await called;
    await w.close();
    return { kind: w.kind, works, why: w.kind === "worker" ? nativeError || "AOD_RING_WAITER=worker" : "" };
  } finally {
    libc.close(fd);
  }
}
