// Upload state in SQLite (<state_dir>/upload.db, 0600): the source of truth
// for what was sent. A row is written before an upload starts and after the
// target confirmed it, so a crash or kill -9 leaves "uploading", which the
// next start turns back into "queued" (puts are idempotent: nothing twice).
// The daemon and `aod upload now|status` may open it at once (WAL, busy wait).
import { Database } from "bun:sqlite";
import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";

export type UploadRowState = "queued" | "uploading" | "uploaded" | "failed" | "abandoned";

export interface UploadRow {
  target: string;
  name: string;
  key: string | null;
  size: number | null;
  sha256: string | null;
  state: UploadRowState;
  attempts: number;
  last_error: string | null;
  queued_at: number;
  next_try_at: number;
  started_at: number | null;
  done_at: number | null;
}

export const STATE_FILE = "upload.db";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS uploads (
  target TEXT NOT NULL,
  name TEXT NOT NULL,
  key TEXT,
  size INTEGER,
  sha256 TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  queued_at INTEGER NOT NULL,
  next_try_at INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER,
  done_at INTEGER,
  PRIMARY KEY (target, name)
);
CREATE INDEX IF NOT EXISTS uploads_due ON uploads (target, state, next_try_at);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
`;

export class UploadState {
  private constructor(
    readonly db: Database,
    readonly path: string,
  ) {}

  /** Opens (creating when asked) the state database in stateDir. */
  static open(stateDir: string, opts: { create?: boolean; readonly?: boolean } = {}): UploadState {
    const path = join(stateDir, STATE_FILE);
    const fresh = !existsSync(path);
    if (fresh && !opts.create) throw new Error(`no upload state at ${path} (aod has not uploaded from this host yet)`);
    const db = new Database(path, opts.readonly ? { readonly: true } : { create: true, readwrite: true });
    db.exec("PRAGMA busy_timeout = 5000");
    if (!opts.readonly) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = FULL"); // "uploaded" must survive a power cut
      db.exec(SCHEMA);
      for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    }
    return new UploadState(db, path);
  }

  close(): void {
    this.db.close();
  }

  get(target: string, name: string): UploadRow | undefined {
    return (
      (this.db.query("SELECT * FROM uploads WHERE target = ? AND name = ?").get(target, name) as UploadRow | null) ??
      undefined
    );
  }

  /** Adds a bundle as queued unless the target already has a row for it. True when added. */
  enqueue(target: string, name: string, now: number): boolean {
    const r = this.db
      .query(
        "INSERT OR IGNORE INTO uploads (target, name, state, queued_at, next_try_at) VALUES (?, ?, 'queued', ?, 0)",
      )
      .run(target, name, now);
    return r.changes > 0;
  }

  /** Rows a crash left "uploading" go back to the queue. Returns how many. */
  requeueInterrupted(target: string): number {
    return this.db
      .query("UPDATE uploads SET state = 'queued', next_try_at = 0 WHERE target = ? AND state = 'uploading'")
      .run(target).changes;
  }

  /** Queued rows due by `now`, oldest bundle first (names sort by their time). */
  due(target: string, now: number, limit: number): UploadRow[] {
    return this.db
      .query("SELECT * FROM uploads WHERE target = ? AND state = 'queued' AND next_try_at <= ? ORDER BY name LIMIT ?")
      .all(target, now, limit) as UploadRow[];
  }

  /** When the next queued row becomes due (undefined: none queued). */
  nextDue(target: string): number | undefined {
    const r = this.db
      .query("SELECT MIN(next_try_at) AS t FROM uploads WHERE target = ? AND state = 'queued'")
      .get(target) as { t: number | null };
    return r.t ?? undefined;
  }

  started(target: string, name: string, key: string, size: number, sha256: string, now: number): void {
    this.db
      .query(
        "UPDATE uploads SET state = 'uploading', key = ?, size = ?, sha256 = ?, started_at = ?, attempts = attempts + 1 WHERE target = ? AND name = ?",
      )
      .run(key, size, sha256, now, target, name);
  }

  uploaded(target: string, name: string, now: number): void {
    this.db
      .query("UPDATE uploads SET state = 'uploaded', done_at = ?, last_error = NULL WHERE target = ? AND name = ?")
      .run(now, target, name);
    this.setMeta(target, "last_success_at", String(now));
  }

  /** A failure: back to the queue at nextTry, or final ("failed") when nextTry is undefined. */
  failed(target: string, name: string, error: string, now: number, nextTry?: number): void {
    if (nextTry === undefined)
      this.db
        .query("UPDATE uploads SET state = 'failed', last_error = ?, done_at = ? WHERE target = ? AND name = ?")
        .run(error, now, target, name);
    else
      this.db
        .query("UPDATE uploads SET state = 'queued', last_error = ?, next_try_at = ? WHERE target = ? AND name = ?")
        .run(error, nextTry, target, name);
    this.setMeta(target, "last_error", error);
    this.setMeta(target, "last_error_at", String(now));
  }

  /** A queued row waits for the breaker: due again at `at` without counting an attempt. */
  postpone(target: string, name: string, at: number): void {
    this.db
      .query("UPDATE uploads SET state = 'queued', next_try_at = ? WHERE target = ? AND name = ?")
      .run(at, target, name);
  }

  /** The bundle is gone before it was uploaded (retention, or deleted by hand). */
  abandoned(target: string, name: string, why: string, now: number): boolean {
    return (
      this.db
        .query(
          "UPDATE uploads SET state = 'abandoned', last_error = ?, done_at = ? WHERE target = ? AND name = ? AND state IN ('queued', 'uploading', 'failed')",
        )
        .run(why, now, target, name).changes > 0
    );
  }

  /** Not uploaded yet (queued, uploading or waiting on a retry). */
  isPending(target: string, name: string): boolean {
    const r = this.get(target, name);
    return r !== undefined && (r.state === "queued" || r.state === "uploading");
  }

  counts(target?: string): { target: string; state: UploadRowState; n: number; bytes: number }[] {
    const where = target === undefined ? "" : "WHERE target = ?";
    const q = this.db.query(
      `SELECT target, state, COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM uploads ${where} GROUP BY target, state ORDER BY target, state`,
    );
    return (target === undefined ? q.all() : q.all(target)) as ReturnType<UploadState["counts"]>;
  }

  rows(target: string, states: UploadRowState[], limit = 100): UploadRow[] {
    return this.db
      .query(
        `SELECT * FROM uploads WHERE target = ? AND state IN (${states.map(() => "?").join(",")}) ORDER BY name LIMIT ?`,
      )
      .all(target, ...states, limit) as UploadRow[];
  }

  targets(): string[] {
    return (this.db.query("SELECT DISTINCT target FROM uploads ORDER BY target").all() as { target: string }[]).map(
      (r) => r.target,
    );
  }

  setMeta(target: string, k: string, v: string): void {
    this.db
      .query("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v")
      .run(`${target}|${k}`, v);
  }

  meta(target: string, k: string): string | undefined {
    return (this.db.query("SELECT v FROM meta WHERE k = ?").get(`${target}|${k}`) as { v: string } | null)?.v;
  }
}
