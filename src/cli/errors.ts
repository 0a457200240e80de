// Errors the CLI turns into a message and an exit code (no stack trace):
// 1 = the command could not do its work, 2 = bad input (usage, config, files).
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
