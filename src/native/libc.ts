// The few libc functions aod calls directly. glibc is the one library every host
// has; its symbols used here exist since GLIBC_2.2.5 (memfd_create goes through
// syscall(2), since the wrapper needs 2.27).
import { dlopen, FFIType, type Pointer, read } from "bun:ffi";
import { nativeSymbols } from "./ffi";

const libc = nativeSymbols(
  dlopen("libc.so.6", {
    __errno_location: { args: [], returns: FFIType.ptr },
    syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
    strerror: { args: [FFIType.i32], returns: FFIType.cstring },
    gnu_get_libc_version: { args: [], returns: FFIType.cstring },
    mmap: {
      args: [FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i64],
      returns: FFIType.ptr,
    },
    munmap: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
    read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    calloc: { args: [FFIType.u64, FFIType.u64], returns: FFIType.ptr },
    free: { args: [FFIType.ptr], returns: FFIType.void },
    madvise: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    vsnprintf: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    epoll_create1: { args: [FFIType.i32], returns: FFIType.i32 },
    epoll_ctl: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    epoll_wait: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    eventfd_write: { args: [FFIType.i32, FFIType.u64], returns: FFIType.i32 },
    getpagesize: { args: [], returns: FFIType.i32 },
    clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    openlog: { args: [FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.void },
    syslog: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.void },
  }),
);

// The ring waiter's thread (src/tools/ring-waiter.ts) is started from native code:
// pthread's functions from libpthread.so.0, where glibc before 2.34 has them
// (later ones resolve them through it to libc).
const pthread = nativeSymbols(
  dlopen("libpthread.so.0", {
    pthread_create: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    pthread_detach: { args: [FFIType.u64], returns: FFIType.i32 },
  }),
);

export { libc, pthread };

/** errno of the last failed libc/libbpf call on this thread (read right after it). */
export function errno(): number {
  return read.i32(libc.__errno_location() as Pointer, 0);
}

export function strerror(err: number): string {
  return String(libc.strerror(Math.abs(err)));
}

export const glibcVersion = (): string => String(libc.gnu_get_libc_version());

const SYS_memfd_create = 319; // x86-64
export const MFD_CLOEXEC = 1;
export const MFD_EXEC = 0x10;

/** memfd_create(2) through syscall(2); returns fd or -errno. */
export function memfdCreate(name: string, flags: number): number {
  const buf = Buffer.from(`${name}\0`);
  const r = Number(libc.syscall(SYS_memfd_create, BigInt(bufPtr(buf)), flags, 0));
  return r < 0 ? -errno() : r;
}

import { ptr } from "bun:ffi";
export const bufPtr = (b: NodeJS.TypedArray | DataView) => ptr(b);

/** NUL-terminated C string for FFI arguments; keep the returned buffer alive during the call. */
export const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");

const ts = new BigInt64Array(2);
/** CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). */
export function monotonicNs(): bigint {
  libc.clock_gettime(1 /* CLOCK_MONOTONIC */, ts);
  return ts[0]! * 1_000_000_000n + ts[1]!;
}
/** CLOCK_REALTIME in ns since the epoch. */
export function realtimeNs(): bigint {
  libc.clock_gettime(0 /* CLOCK_REALTIME */, ts);
  return ts[0]! * 1_000_000_000n + ts[1]!;
}
