// Types for bun:ffi symbol tables, shared by every dlopen() in src/native.
import type { FFIFunction, Library, Pointer } from "bun:ffi";

/**
 * bun:ffi types a `ptr` (or `function`) result as `Pointer | bigint | null`,
 * but Bun returns a pointer as a number, or null for NULL (a bigint only comes
 * from 64-bit integer results, whose type stays `bigint`).
 */
type PointerResult<R> = [Pointer | bigint | null] extends [R]
  ? [R] extends [Pointer | bigint | null]
    ? Pointer | null
    : R
  : R;

/** A library's symbols, each typed from its FFIType declaration (arguments and result). */
export type NativeSymbols<T extends Record<string, FFIFunction>> = {
  [K in keyof Library<T>["symbols"]]: Library<T>["symbols"][K] extends (...args: infer A) => infer R
    ? (...args: A) => PointerResult<R>
    : never;
};

/** The symbols of a library opened with dlopen(), with pointer results typed as Bun returns them. */
export function nativeSymbols<T extends Record<string, FFIFunction>>(lib: Library<T>): NativeSymbols<T> {
  // The one narrowing: same functions, `bigint` dropped from pointer results (see PointerResult).
  return lib.symbols as unknown as NativeSymbols<T>;
}

/** The address of a bound function, for native code that calls it (bun:ffi sets `ptr` on each symbol). */
export const symbolAddress = (f: unknown): bigint => BigInt((f as { ptr: number }).ptr);
