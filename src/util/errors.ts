// What a caught value says. `catch (e)` gives `unknown`: anything can be thrown.

/** The message of a caught error; a thrown non-error as text. */
export function errorMessage(e: unknown): string {
  return typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e);
}

/** The code of a failed system call ("ENOENT", "EACCES", ...), if the error has one. */
export function errorCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
}
