// The upload lane end to end against real servers (Azurite, s3rver): what
// arrives, that nothing goes twice, and the faults issue 17 names — a server
// stopped mid-upload, aod killed with -9 mid-upload, a 403 that opens the
// breaker, a 100-bundle backlog under the bandwidth cap — plus the CLI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeBundle } from "../../src/bundle/write";
import type { UploadConfig } from "../../src/config/upload";
import { zstdDecompress } from "../../src/native/zstd";
import { parseConfigText } from "../../src/registry";
import { runRetention } from "../../src/retention/retention";
import { makeTarget } from "../../src/upload/make-target";
import { UploadState } from "../../src/upload/state";
import { type Sidecar, Uploader } from "../../src/upload/uploader";
import { bundles as bundlesIn, cannotRun, libc, startDaemon } from "../daemon/loadgen-daemon";
import { AOD, needsBinary, tempDir } from "../helpers";
import { type Azurite, azuriteMissing, freePort, makeSas, startAzurite, startFakeImds } from "./azurite";
import { type S3rver, s3rverUnavailable, startS3rver } from "./s3rver";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function until<T>(f: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/** n bundles of about `bytes` each (random, so zstd keeps their size), 1 s apart in detection time. */
async function makeBundles(
  batches: string,
  n: number,
  bytes: number,
  t0 = Date.UTC(2026, 11, 2, 10),
): Promise<string[]> {
  mkdirSync(batches, { recursive: true, mode: 0o700 });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const { path } = await writeBundle(
      batches,
      BigInt(t0 + i * 1000) * 1_000_000n,
      [
        { name: "anomaly.json", data: `{"type":"latency","name":"t${i}"}\n` },
        { name: "payload.bin", data: randomBytes(bytes) },
      ],
      1,
    );
    out.push(path);
  }
  return out;
}

/** stderr lines the in-process log writes, while `f` runs. */
function captureLog(): { lines: () => string[]; stop: () => void } {
  const orig = process.stderr.write.bind(process.stderr);
  const lines: string[] = [];
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(...String(chunk).split("\n").filter(Boolean));
    return (orig as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  return { lines: () => lines, stop: () => (process.stderr.write = orig) };
}

/** One test's directories and container (each test has its own). */
interface Env {
  dir: string;
  batches: string;
  state: string;
  sasFile: string;
  container: string;
}

let containers = 0;
function env(): Env {
  const dir = tempDir("aod-lane-");
  const e = {
    dir,
    batches: join(dir, "out/batches"),
    state: join(dir, "state"),
    sasFile: join(dir, "sas"),
    container: `lane${++containers}`,
  };
  mkdirSync(e.state, { mode: 0o700 });
  return e;
}

function azureYaml(az: Azurite, e: Env, extra = ""): string {
  return `aod_output_dir: ${e.dir}/out\nstate_dir: ${e.state}\nupload:\n  target: azure_blob\n  account_url: ${az.url}\n  container: ${e.container}\n  auth: sas\n  sas_token_file: ${e.sasFile}\n${extra}`;
}

const uploadOf = (yaml: string): UploadConfig => parseConfigText(yaml, "t.yaml").upload!;

function uploader(u: UploadConfig, e: Env): Uploader {
  return new Uploader({ config: u, stateDir: e.state, batchesDir: e.batches, target: makeTarget(u), hostId: "h" });
}

/** Every bundle blob with its sidecar, checked: the blob's sha256 = the sidecar's = the local file's. */
async function checkArrived(az: Azurite, container: string, bundles: string[]): Promise<void> {
  const names = await az.listBlobs(container);
  expect(names.length).toBe(bundles.length * 2);
  for (const path of bundles) {
    const file = path.slice(path.lastIndexOf("/") + 1);
    const key = names.find((n) => n.endsWith(`/${file}`));
    expect(key).toBeDefined();
    expect(key).toMatch(/^aod\/v1\/(h|[0-9a-f]{64})\/2026-12-02\//); // the in-process tests' host id is "h"
    const blob = (await az.getBlob(container, key!))!;
    const side = JSON.parse(
      new TextDecoder().decode((await az.getBlob(container, `${key}.manifest.json`))!.bytes),
    ) as Sidecar;
    const local = sha(readFileSync(path));
    expect(sha(blob.bytes)).toBe(local);
    expect(side.sha256).toBe(local);
    expect(blob.metadata.sha256).toBe(local);
    expect(side.bundle).toBe(file);
    expect(side.manifest?.members.map((m) => m.name)).toEqual(["anomaly.json", "payload.bin"]);
  }
}

const azMissing = azuriteMissing();
describe.skipIf(!!azMissing)(`upload lane, Azure Blob (Azurite)${azMissing ? `: ${azMissing}` : ""}`, () => {
  let az: Azurite;
  beforeAll(async () => {
    az = await startAzurite();
  });
  afterAll(async () => {
    await az?.close();
  });
  /** A new container and a SAS for it in the env's file. */
  const setup = async (opts: { badSignature?: boolean } = {}): Promise<Env> => {
    const e = env();
    await az.createContainer(e.container);
    writeFileSync(e.sasFile, makeSas({ container: e.container, ...opts }), { mode: 0o600 });
    return e;
  };
  const putsOf = (e: Env, name: string) =>
    az
      .requests()
      .filter(
        (r) =>
          r.method === "PUT" && r.status === 201 && r.target.includes(`/${e.container}/`) && r.target.includes(name),
      ).length;

  test("bundles written before and after start arrive once, each with a sidecar whose sha256 matches", async () => {
    const e = await setup();
    const before = await makeBundles(e.batches, 2, 20_000);
    const u = uploadOf(azureYaml(az, e));
    const up = uploader(u, e);
    up.start();
    const later = await makeBundles(e.batches, 1, 20_000, Date.UTC(2026, 11, 2, 11));
    up.enqueue(later[0]!);
    await until(() => up.state.counts().find((c) => c.state === "uploaded" && c.n === 3), 20_000, "3 uploads");
    await up.stop();
    await checkArrived(az, e.container, [...before, ...later]);
    // A restart finds them uploaded: no request to the service at all.
    const puts = az.requests().filter((r) => r.method === "PUT").length;
    const again = uploader(u, e);
    again.start();
    await Bun.sleep(300);
    expect(again.queued()).toBe(0);
    await again.stop();
    expect(az.requests().filter((r) => r.method === "PUT").length).toBe(puts);

    // aod upload status --json reads the same state (the daemon may hold it open meanwhile).
    const cfg = join(e.dir, "config.yaml");
    writeFileSync(cfg, azureYaml(az, e), { mode: 0o600 });
    if (needsBinary()) return;
    const r = Bun.spawnSync([AOD, "upload", "status", "--json", "-c", cfg], { stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const st = JSON.parse(r.stdout.toString());
    expect(st.targets[0].counts.uploaded.bundles).toBe(3);
    expect(st.targets[0].breaker).toBe("closed");
    expect(st.targets[0].last_success_at).toMatch(/^20\d\d-/);
  }, 60_000);

  test("the daemon uploads the bundles it writes; /metrics counts them; SIGTERM while idle exits 0", async () => {
    if (cannotRun()) return;
    const e = await setup();
    const d = await startDaemon(
      `state_dir: ${e.state}
watch_interval_sec: 1
guardian:
  anomalies:
    slow:
      type: Latency
      acceptable_count: 10
      default_threshold_ms: 20
      cooldown_sec: 0
      actions: []
collection:
  stop_grace_sec: 0.5
metrics:
  textfile:
    path: ${e.dir}/aod.prom
    interval_sec: 1
upload:
  target: azure_blob
  account_url: ${az.url}
  container: ${e.container}
  auth: sas
  sas_token_file: ${e.sasFile}
`,
    );
    try {
      libc.getppid();
      const written = await until(() => bundlesIn(d.batches)[0], 10_000, "a bundle");
      const name = written;
      await until(() => d.log().includes('"msg":"uploaded bundle"'), 15_000, "the upload");
      const blobs = await az.listBlobs(e.container);
      expect(blobs.filter((b) => b.endsWith(`/${name}`)).length).toBe(1);
      expect(blobs.filter((b) => b.endsWith(`/${name}.manifest.json`)).length).toBe(1);
      const prom = await until(
        () => {
          try {
            const t = readFileSync(`${e.dir}/aod.prom`, "utf8");
            return /aod_uploads_total\{target="azure_blob",result="uploaded"\} [1-9]/.test(t) && t;
          } catch {
            return undefined;
          }
        },
        10_000,
        "the upload in the metrics textfile",
      );
      expect(prom).toContain('aod_upload_breaker{target="azure_blob",state="closed"} 1');
    } finally {
      d.proc.kill("SIGTERM");
      expect(await d.proc.exited).toBe(0);
    }
  }, 60_000);

  test("Azurite stopped mid-upload and restarted: the bundle arrives once, intact", async () => {
    const e = await setup();
    // 600 kB at 2 Mbit/s: about 2.4 s on the wire; the server goes away after 0.8 s.
    const [b] = await makeBundles(e.batches, 1, 600_000);
    const up = uploader(uploadOf(azureYaml(az, e, "  max_mbps: 2\n  retry_max_sec: 1\n")), e);
    up.start();
    await Bun.sleep(800);
    await az.stop();
    await until(() => up.state.get(up.targetId, b!.split("/").pop()!)?.last_error, 10_000, "the failure");
    await Bun.sleep(500);
    await az.restart();
    await until(() => up.state.counts().find((c) => c.state === "uploaded"), 30_000, "the upload after the restart");
    await up.stop();
    await checkArrived(az, e.container, [b!]);
    expect(putsOf(e, b!.split("/").pop()!)).toBe(2); // the bundle once, its sidecar once
  }, 60_000);

  test.skipIf(!!needsBinary())(
    "aod killed with -9 during a slow upload, then run again: nothing twice, nothing missing",
    async () => {
      const e = await setup();
      const [b] = await makeBundles(e.batches, 1, 500_000);
      const name = b!.split("/").pop()!;
      const cfg = join(e.dir, "config.yaml");
      writeFileSync(cfg, azureYaml(az, e, "  max_mbps: 1\n"), { mode: 0o600 }); // about 4 s
      const first = Bun.spawn([AOD, "upload", "now", "-c", cfg], { stdout: "pipe", stderr: "pipe" });
      await Bun.sleep(1500);
      first.kill("SIGKILL");
      await first.exited;
      const st = UploadState.open(e.state);
      expect(st.get(st.targets()[0]!, name)?.state).toBe("uploading"); // killed mid-way
      st.close();
      expect(await az.listBlobs(e.container)).toEqual([]); // nothing committed half-way
      const again = Bun.spawnSync([AOD, "upload", "now", "-c", cfg], { stdout: "pipe", stderr: "pipe" });
      expect(again.stdout.toString()).toContain(`${name}: uploaded`);
      expect(again.exitCode).toBe(0);
      await checkArrived(az, e.container, [b!]);
      expect(putsOf(e, name)).toBe(2);
      // A third run has nothing to do.
      const third = Bun.spawnSync([AOD, "upload", "now", "-c", cfg], { stdout: "pipe", stderr: "pipe" });
      expect(third.stdout.toString()).toContain("nothing to upload");
    },
    60_000,
  );

  test.skipIf(!!needsBinary())(
    "aod upload now FILE with redact and delete_after_upload: the redacted copy goes, the map stays, the original goes",
    async () => {
      const e = await setup();
      mkdirSync(e.batches, { recursive: true, mode: 0o700 });
      const { path } = await writeBundle(
        e.batches,
        BigInt(Date.UTC(2026, 11, 2, 12)) * 1_000_000n,
        [
          {
            name: "anomaly.json",
            data: '{"type":"latency","name":"slow","host":"fileserver01","triggers":[{"share":"\\\\fileserver01\\data"}]}\n',
          },
          { name: "mounts.log", data: "//fileserver01/data /mnt/data cifs rw,username=alice,addr=10.1.2.3 0 0\n" },
        ],
        1,
      );
      const name = path.split("/").pop()!;
      const cfg = join(e.dir, "config.yaml");
      writeFileSync(cfg, azureYaml(az, e, "  redact: true\n  delete_after_upload: true\n"), { mode: 0o600 });
      const r = Bun.spawnSync([AOD, "upload", "now", name, "-c", cfg], { stdout: "pipe", stderr: "pipe" });
      expect(r.stdout.toString()).toContain(`${name}: uploaded`);
      expect(r.exitCode).toBe(0);
      expect(existsSync(path)).toBe(false); // delete_after_upload
      const key = (await az.listBlobs(e.container)).find((b) => b.endsWith(`/${name}`))!;
      const blob = (await az.getBlob(e.container, key))!;
      const side = JSON.parse(new TextDecoder().decode((await az.getBlob(e.container, `${key}.manifest.json`))!.bytes));
      expect(side.redacted).toBe(true);
      expect(side.sha256).toBe(sha(blob.bytes));
      const text = new TextDecoder().decode(zstdDecompress(blob.bytes));
      expect(text).not.toContain("fileserver01");
      expect(text).not.toContain("10.1.2.3");
      expect(text).not.toContain("alice");
      const map = JSON.parse(readFileSync(join(e.state, "redacted", `${name}.tokens.json`), "utf8"));
      expect(Object.keys(map.tokens)).toContain("fileserver01");
      expect(existsSync(join(e.state, "redacted", name))).toBe(false); // the copy goes once uploaded
    },
    30_000,
  );

  test("403 opens the breaker with one warning; uploads wait, and go once access is fixed", async () => {
    const e = await setup({ badSignature: true });
    await makeBundles(e.batches, 5, 2000);
    const log = captureLog();
    const up = uploader(uploadOf(azureYaml(az, e, "  breaker_probe_sec: 1\n")), e);
    try {
      up.start();
      await until(() => up.breakerState === "open", 10_000, "the breaker to open");
      await Bun.sleep(2500); // two probes fail meanwhile
      expect(log.lines().filter((l) => l.includes("upload breaker open")).length).toBe(1);
      expect(up.state.counts().map((c) => [c.state, c.n])).toEqual([["queued", 5]]);
      expect(await az.listBlobs(e.container)).toEqual([]);
      writeFileSync(e.sasFile, makeSas({ container: e.container }), { mode: 0o600 });
      await until(() => up.state.counts().find((c) => c.state === "uploaded" && c.n === 5), 15_000, "5 uploads");
      expect(up.breakerState).toBe("closed");
      expect(log.lines().filter((l) => l.includes("upload breaker closed")).length).toBe(1);
      expect(log.lines().filter((l) => l.includes("upload breaker open")).length).toBe(1);
    } finally {
      log.stop();
      await up.stop();
    }
    expect((await az.listBlobs(e.container)).length).toBe(10);
  }, 60_000);

  test("a 100-bundle backlog drains under the bandwidth cap", async () => {
    const e = await setup();
    const bundles = await makeBundles(e.batches, 100, 8000);
    const bytes = bundles.reduce((n, p) => n + readFileSync(p).length, 0);
    const mbps = 4; // 500 kB/s for all uploads together
    const up = uploader(uploadOf(azureYaml(az, e, `  max_mbps: ${mbps}\n  concurrency: 4\n`)), e);
    const t0 = performance.now();
    up.start();
    await until(() => up.state.counts().find((c) => c.state === "uploaded" && c.n === 100), 60_000, "100 uploads");
    const sec = (performance.now() - t0) / 1000;
    expect(up.metrics()).toMatchObject({ uploaded: 100, queued: 0, breaker: "closed" });
    await up.stop();
    const floor = bytes / ((mbps * 1e6) / 8); // the cap's minimum for the bundles alone
    console.log(`100 bundles, ${bytes} B, in ${sec.toFixed(2)} s (cap: at least ${floor.toFixed(2)} s)`);
    expect(sec).toBeGreaterThan(floor * 0.85); // the token bucket's burst is a quarter second
    expect(sec).toBeLessThan(floor * 4 + 10);
    expect((await az.listBlobs(e.container)).length).toBe(200);
  }, 90_000);

  test("retention: a pending bundle survives the age limit once, then is deleted and counted abandoned", async () => {
    const e = await setup({ badSignature: true });
    const [b] = await makeBundles(e.batches, 1, 1000);
    const up = uploader(uploadOf(azureYaml(az, e, "  breaker_probe_sec: 600\n")), e);
    up.start();
    await until(() => up.breakerState === "open", 10_000, "the breaker");
    const cleanup = { cleanup_interval_sec: 60, max_log_age_days: 1, max_total_log_size_mb: 100 };
    const day = 86_400_000;
    const pending = (f: string) => up.isPending(f);
    expect(runRetention(e.batches, cleanup, Date.now() + 1.5 * day, pending).deleted).toEqual([]);
    const r = runRetention(e.batches, cleanup, Date.now() + 2.5 * day, pending);
    expect(r.deleted.map((d) => [d.why, d.pending])).toEqual([["age", true]]);
    for (const d of r.deleted) up.abandon(d.file, "retention");
    expect(up.metrics().abandoned).toBe(1);
    expect(up.state.get(up.targetId, b!.split("/").pop()!)?.state).toBe("abandoned");
    await up.stop();
  }, 30_000);

  test.skipIf(!!needsBinary())(
    "aod upload validate explains: works, wrong container, refused proxy, bad signature",
    async () => {
      const e = await setup();
      const cfg = join(e.dir, "config.yaml");
      // Async: the fake IMDS below answers from this process.
      const validate = async (yaml: string, extraEnv: Record<string, string> = {}) => {
        writeFileSync(cfg, yaml, { mode: 0o600 });
        const p = Bun.spawn([AOD, "upload", "validate", "-c", cfg], {
          stdout: "pipe",
          stderr: "pipe",
          env: { ...process.env, HTTP_PROXY: "", http_proxy: "", ...extraEnv },
        });
        const [out, err, code] = await Promise.all([
          new Response(p.stdout).text(),
          new Response(p.stderr).text(),
          p.exited,
        ]);
        return { code, out: out + err };
      };
      const ok = await validate(azureYaml(az, e));
      expect(ok.out).toContain("ok   read back: the same bytes");
      expect(ok.code).toBe(0);
      const nosuch = { ...e, container: "nosuch", sasFile: join(e.dir, "sas-nosuch") };
      writeFileSync(nosuch.sasFile, makeSas({ container: "nosuch" }), { mode: 0o600 });
      const missing = await validate(azureYaml(az, nosuch));
      expect(missing.out).toContain("container nosuch does not exist");
      expect(missing.code).toBe(1);
      const closed = await freePort();
      const proxy = await validate(azureYaml(az, e), { HTTP_PROXY: `http://127.0.0.1:${closed}`, NO_PROXY: "" });
      expect(proxy.out).toContain(`the proxy http://127.0.0.1:${closed} refused or failed the connection`);
      expect(proxy.code).toBe(1);
      writeFileSync(e.sasFile, makeSas({ container: e.container, badSignature: true }), { mode: 0o600 });
      const imds = startFakeImds({ systemAssigned: false });
      try {
        const noId = await validate(
          `state_dir: ${e.state}\nupload:\n  target: azure_blob\n  account_url: https://127.0.0.1:${closed}/devstoreaccount1\n  container: c\n  auth: managed_identity\n  imds_endpoint: ${imds.endpoint}\n`,
        );
        expect(noId.out).toContain("FAIL credentials");
        expect(noId.out).toContain("no managed identity on this VM: assign one");
        expect(noId.code).toBe(1);
      } finally {
        imds.stop();
      }
      const bad = await validate(azureYaml(az, e));
      expect(bad.out).toContain("the SAS token was refused");
      expect(bad.out).not.toContain("sig=");
      expect(bad.code).toBe(1);
    },
    60_000,
  );
});

const s3Missing = s3rverUnavailable();
describe.skipIf(!!s3Missing)(`upload lane, S3 (s3rver)${s3Missing ? `: ${s3Missing}` : ""}`, () => {
  let s3: S3rver;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.close();
  });

  test("bundles arrive with sidecars; the server stopped mid-upload and restarted gets each once", async () => {
    const e = env();
    const creds = join(e.dir, "creds");
    writeFileSync(
      creds,
      `[default]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`,
      {
        mode: 0o600,
      },
    );
    const bundles = await makeBundles(e.batches, 3, 200_000);
    const u = uploadOf(
      `state_dir: ${e.state}\nupload:\n  target: s3\n  endpoint: ${s3.endpoint}\n  bucket: ${s3.bucket}\n  region: ${s3.region}\n  path_style: true\n  credentials_file: ${creds}\n  max_mbps: 2\n  concurrency: 1\n  retry_max_sec: 1\n`,
    );
    const up = uploader(u, e);
    up.start();
    await Bun.sleep(1200); // the first is uploaded, the second on the wire
    await s3.stop();
    await Bun.sleep(500);
    await s3.restart();
    await until(() => up.state.counts().find((c) => c.state === "uploaded" && c.n === 3), 40_000, "3 uploads");
    await up.stop();
    const keys = s3.listKeys();
    expect(keys.length).toBe(6);
    for (const path of bundles) {
      const file = path.split("/").pop()!;
      const key = keys.find((k) => k.endsWith(`/${file}`))!;
      const obj = s3.getObject(key)!;
      const side = JSON.parse(new TextDecoder().decode(s3.getObject(`${key}.manifest.json`)!.bytes)) as Sidecar;
      expect(sha(obj.bytes)).toBe(sha(readFileSync(path)));
      expect(side.sha256).toBe(sha(obj.bytes));
      expect(obj.metadata.sha256).toBe(side.sha256);
      const puts = s3.requests().filter((r) => r.method === "PUT" && r.status === 200 && r.url.endsWith(`/${file}`));
      expect(puts.length).toBe(1);
    }
  }, 60_000);
});
