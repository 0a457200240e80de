// The host's id in object keys: sha256 of the machine id and a random salt
// made once and kept in the state dir. Stable across restarts; says nothing
// about the host name, and the machine id cannot be recovered from it.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorCode } from "../util/errors";

export const SALT_FILE = "host-id.salt";

const MACHINE_ID_FILES = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

function machineId(): string {
  for (const f of MACHINE_ID_FILES) {
    try {
      const id = readFileSync(f, "utf8").trim();
      if (id) return id;
    } catch {}
  }
  return ""; // no machine id (a bare container): the salt alone then makes the id
}

function salt(stateDir: string): string {
  const path = join(stateDir, SALT_FILE);
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    if (errorCode(e) !== "ENOENT") throw e;
  }
  const made = randomBytes(32).toString("hex");
  try {
    writeFileSync(path, `${made}\n`, { mode: 0o600, flag: "wx" });
    return made;
  } catch (e) {
    if (errorCode(e) === "EEXIST") return readFileSync(path, "utf8").trim(); // another aod made it first
    throw e;
  }
}

/** 64 hex characters. */
export function hostId(stateDir: string): string {
  return createHash("sha256")
    .update(`${machineId()}\n${salt(stateDir)}`)
    .digest("hex");
}

/** An object key: the prefix with {host_id} and {date} (UTC day of detection) filled, then the file name. */
export function objectKey(prefix: string, host: string, detectedAtMs: number, file: string): string {
  const date = new Date(detectedAtMs).toISOString().slice(0, 10);
  const p = prefix.replaceAll("{host_id}", host).replaceAll("{date}", date);
  return `${p}${p === "" || p.endsWith("/") ? "" : "/"}${file}`;
}
