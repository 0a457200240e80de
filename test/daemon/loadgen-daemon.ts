// `aod _loadgen` as a test daemon: the real daemon fed by the load-generator
// BPF object (getppid() calls of this process become events), its log and
// bundle directory. Shared by the daemon tests.
import { dlopen, FFIType } from "bun:ffi";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AOD, isRoot, ROOT, skipReason, tempDir } from "../helpers";

export const OBJ = join(ROOT, "build/test/ringtest.bpf.o");
export const { symbols: libc } = dlopen("libc.so.6", { getppid: { args: [], returns: FFIType.i32 } });

export function cannotRun() {
  return skipReason({
    "needs root (BPF)": !isRoot,
    "dist/aod not built": !existsSync(AOD),
    "build/test/ringtest.bpf.o missing": !existsSync(OBJ),
  });
}

export async function startDaemon(configYaml: string, set = "burst=20,latency_ns=100000000") {
  const dir = tempDir();
  const cfg = join(dir, "config.yaml");
  writeFileSync(cfg, `aod_output_dir: ${dir}/out\n${configYaml}`, { mode: 0o600 });
  const proc = Bun.spawn(
    [AOD, "_loadgen", "--config", cfg, "--loadgen", OBJ, "--loadgen-pid", String(process.pid), "--loadgen-set", set],
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, AOD_LOG_LEVEL: "info" } },
  );
  let log = "";
  const reader = (async () => {
    for await (const chunk of proc.stderr) log += new TextDecoder().decode(chunk);
  })();
  const t0 = Date.now();
  while (!log.includes('"msg":"ready"') && Date.now() - t0 < 10_000 && proc.exitCode === null) await Bun.sleep(20);
  if (!log.includes('"msg":"ready"')) throw new Error(`aod run did not become ready:\n${log}`);
  const batches = join(dir, "out/batches");
  return { proc, batches, cfg, log: () => log, reader };
}

export async function waitFor<T>(f: () => T | undefined, ms: number): Promise<T | undefined> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v || Date.now() - t0 > ms) return v;
    await Bun.sleep(10);
  }
}

export const bundles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".tar.zst"));
