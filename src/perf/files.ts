// Output files appear whole or not at all: written under a temporary name in
// the same directory, then renamed into place.
import { closeSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { AodError, errorCode } from "../util/errors";

function tempName(path: string, tag: string): string {
  return join(dirname(path), `.${basename(path)}.${tag}-${process.pid}`);
}

const describe = (e: unknown): string => errorCode(e) ?? String(e);

/** Writes every file or none: all go to temporary names first, then are renamed. */
export function writeFilesAtomic(files: { path: string; data: string | Uint8Array }[]): void {
  const temps: string[] = [];
  try {
    for (const f of files) {
      const tmp = tempName(f.path, "tmp");
      temps.push(tmp);
      writeFileSync(tmp, f.data);
    }
    for (const [i, f] of files.entries()) renameSync(temps[i]!, f.path);
  } catch (e) {
    for (const t of temps) rmSync(t, { force: true });
    const failed = typeof e === "object" && e !== null && "path" in e ? e.path : undefined;
    throw new AodError(`cannot write ${failed ?? files.map((f) => f.path).join(", ")}: ${describe(e)}`, 1);
  }
}

/**
 * A CSV file written row by row as samples come in. It lives under a temporary
 * name until close(), which renames it, so an interrupted run still leaves a
 * valid file (header plus whole rows) and never a half-written one.
 */
export class CsvStream {
  private fd: number;
  private readonly temp: string;
  private closed = false;

  constructor(
    readonly path: string,
    header: string[],
  ) {
    this.temp = tempName(path, "part");
    try {
      this.fd = openSync(this.temp, "w");
    } catch (e) {
      throw new AodError(`cannot create ${path}: ${describe(e)}`, 1);
    }
    this.row(header);
  }

  row(fields: (string | number)[]): void {
    writeSync(this.fd, `${fields.join(",")}\n`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    renameSync(this.temp, this.path);
  }
}
