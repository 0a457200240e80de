// dist/aod on an older userland: a Debian 11 (bullseye, glibc 2.31) root
// filesystem made with mmdebstrap from the machine's Debian mirror (cached in
// .cache/glibc, built once: test/glibc/rootfs.sh), entered with chroot in a
// private mount namespace. Nothing of the host's /usr is visible in there: aod
// must run on bullseye's glibc with only what it embeds.
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AOD, isRoot, ROOT, SHARED, tempDir } from "../helpers";
import { skipUnlessCI } from "./glibc";

const SUITE = "bullseye";
const GLIBC = "2.31";
const SETUP_TIMEOUT = 15 * 60_000; // a cold mmdebstrap takes ~20 s here; slow mirrors more

let rootfs: string | undefined;
let setupError: unknown;
let skipped: string | undefined;

/** Extracts the cached root filesystem (building it first if needed) and puts aod and its inputs in. */
function setup(): string | undefined {
  if (rootfs || skipped) return rootfs;
  if (setupError) throw setupError;
  skipped = skipUnlessCI({
    "dist/aod not built (make build)": !existsSync(AOD),
    "needs root (mmdebstrap, chroot, mounts)": !isRoot,
    "mmdebstrap not installed (apt-get install mmdebstrap)": !Bun.which("mmdebstrap"),
    "unshare/chroot not installed (util-linux, coreutils)": !Bun.which("unshare") || !Bun.which("chroot"),
  });
  if (skipped) return undefined;
  try {
    const t0 = performance.now();
    const r = Bun.spawnSync([join(import.meta.dir, "rootfs.sh"), SUITE], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`rootfs.sh ${SUITE} failed:\n${r.stderr.toString()}`);
    const tar = r.stdout.toString().trim();
    const dir = tempDir(`aod-${SUITE}-`);
    const x = Bun.spawnSync(["tar", "-xf", tar, "-C", dir, "--numeric-owner"], { stderr: "pipe" });
    if (x.exitCode !== 0) throw new Error(`tar -xf ${tar}: ${x.stderr.toString()}`);
    console.log(`${SUITE} root filesystem ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${tar})`);

    copyFileSync(AOD, join(dir, "usr/local/bin/aod"));
    Bun.spawnSync(["chmod", "0755", join(dir, "usr/local/bin/aod")]);
    mkdirSync(join(dir, "work/fixtures"), { recursive: true });
    mkdirSync(join(dir, "work/out"), { recursive: true });
    const proto = join(SHARED, "prototype/config.yaml");
    copyFileSync(existsSync(proto) ? proto : join(ROOT, "config/aod.yaml"), join(dir, "work/config.yaml"));
    const fixtures = join(SHARED, "fixtures");
    if (existsSync(fixtures))
      for (const f of readdirSync(fixtures).filter((n) => n.endsWith(".csv")))
        copyFileSync(join(fixtures, f), join(dir, "work/fixtures", f));
    rootfs = dir;
    return dir;
  } catch (e) {
    setupError = e;
    throw e;
  }
}

afterAll(() => {
  // The mounts lived in the command's own namespace: only plain files are left.
  if (rootfs) rmSync(rootfs, { recursive: true, force: true });
});

/** Runs aod chrooted into the root filesystem, with /proc, /sys and /dev of the host (BPF needs them). */
function runIn(dir: string, args: string[]) {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const script = [
    `mount -t proc proc ${q(dir)}/proc`,
    `mount --rbind /sys ${q(dir)}/sys`,
    `mount --rbind /dev ${q(dir)}/dev`,
    `cd ${q(dir)}`,
    `exec chroot ${q(dir)} /usr/local/bin/aod ${args.map(q).join(" ")}`,
  ].join(" && ");
  const r = Bun.spawnSync(["unshare", "-m", "--propagation", "private", "sh", "-c", script], {
    stdout: "pipe",
    stderr: "pipe",
    env: {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: "/root",
      TMPDIR: "/tmp",
      AOD_LOG_LEVEL: "warn",
      NO_COLOR: "1",
    },
  });
  const res = { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  // A missing symbol version is the failure this test is about: say so plainly.
  expect(res.stderr).not.toMatch(/GLIBC_\d|error while loading shared libraries|version `/);
  return res;
}

describe(`dist/aod on Debian ${SUITE} (glibc ${GLIBC})`, () => {
  test(
    "--version",
    () => {
      const dir = setup();
      if (!dir) return;
      const r = runIn(dir, ["--version"]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+\+\w+$/);
    },
    SETUP_TIMEOUT,
  );

  test("check --json: runs on glibc 2.31 and loads the embedded libbpf and libzstd", () => {
    const dir = setup();
    if (!dir) return;
    const r = runIn(dir, ["check", "--json"]);
    const checks = JSON.parse(r.stdout).checks as { name: string; status: string; detail: string }[];
    const by = Object.fromEntries(checks.map((c) => [c.name, c]));
    console.log(
      checks
        .filter((c) => /glibc|embedded|BPF|waiter/.test(c.name))
        .map((c) => `  ${c.name}: ${c.status} ${c.detail}`)
        .join("\n"),
    );
    expect(by.glibc?.detail).toStartWith(GLIBC); // really bullseye's, not the host's
    expect(by["libbpf (embedded)"]!.status).toBe("ok");
    expect(by["libbpf (embedded)"]!.detail).toMatch(/^v1\./);
    expect(by["libzstd (embedded)"]!.status).toBe("ok");
    expect(by["libzstd (embedded)"]!.detail).toMatch(/^1\.\d+\.\d+$/);
    // The C ring waiter links nothing: no libc.so (libc6-dev) in there, pthread_create in libpthread.so.0.
    expect(by["ring waiter"]).toEqual({
      name: "ring waiter",
      status: "ok",
      detail: expect.stringContaining("native thread"),
    });
  });

  test("config validate on the prototype's config", () => {
    const dir = setup();
    if (!dir) return;
    const r = runIn(dir, ["config", "validate", "/work/config.yaml"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ok");
  });

  test("compare on the CSV fixtures (charts included)", () => {
    const dir = setup();
    if (!dir) return;
    const csv = readdirSync(join(dir, "work/fixtures"));
    if (skipUnlessCI({ "no CSV fixtures in ../shared/fixtures": csv.length === 0 })) return;
    const pairs: string[][] = [];
    for (const kind of ["system_usage", "disk_usage"]) {
      const a = csv.find((f) => f.startsWith(kind) && f.includes("baseline"));
      const b = csv.find((f) => f.startsWith(kind) && f.includes("with_aod"));
      if (a && b) pairs.push([`/work/fixtures/${a}`, `/work/fixtures/${b}`]);
    }
    if (!pairs.length) pairs.push([`/work/fixtures/${csv[0]}`]);
    for (const files of pairs) {
      const out = `/work/out/${pairs.indexOf(files)}`;
      mkdirSync(join(dir, out), { recursive: true });
      const r = runIn(dir, ["compare", ...files, "-o", out]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(readdirSync(join(dir, out)).filter((f) => f.endsWith(".png")).length).toBeGreaterThan(0);
    }
  });
});
