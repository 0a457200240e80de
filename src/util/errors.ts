// Errors as every layer uses them: what a caught value says (`catch (e)`
// gives `unknown`: anything can be thrown), and the errors the CLI turns into
// a message and an exit code (no stack trace): 1 = the command could not do
// its work, 2 = bad input (usage, config, files).

export class AodError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = "AodError";
  }
}

export class UsageError extends AodError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}

/** The message of a caught error; a thrown non-error as text. */
export function errorMessage(e: unknown): string {
  return typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e);
}

/** The code of a failed system call ("ENOENT", "EACCES", ...), if the error has one. */
export function errorCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
}
