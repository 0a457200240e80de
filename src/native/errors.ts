import { strerror } from "./libc";

/** A failed native call: which call, the library's message, and errno. */
export class NativeError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`${call} failed: ${detail ?? strerror(errno)} (errno ${errno})`);
    this.name = "NativeError";
  }
}
