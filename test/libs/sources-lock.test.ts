// scripts/libs/sources.lock: the embedded libraries are built from the exact
// Debian source versions it names (fetch-source.sh), with a loud fallback when
// the mirror does not serve them, and update-lock.sh moves it. Tested without
// the network: a signed Debian source repository of a tiny package, served on
// 127.0.0.1, whose newest version (1.1) lacks its tarball.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, join, normalize } from "node:path";
import { isRoot, ROOT, tempDir } from "../helpers";

const LIBS = join(ROOT, "scripts/libs");
const PKG = "aodtestlib";
const SUITE = "aodtest";

const tools = ["apt-get", "apt-cache", "dpkg-source", "dpkg-scansources", "gpg", "gpgconf", "flock"];
const missingTools = tools.filter((t) => !Bun.which(t));
const skip = !isRoot
  ? "needs root (apt-get source with the project's apt configuration)"
  : missingTools.length
    ? `missing ${missingTools.join(", ")} (scripts/deps.sh installs them: dpkg-dev, gpg, apt)`
    : undefined;
if (skip) console.warn(`SKIP test/libs/sources-lock: ${skip}`);

let tmp = "";
let repo = "";
let gnupg = "";
let server: ReturnType<typeof Bun.serve> | undefined;
const sha: Record<string, string> = {};
const baseEnv: Record<string, string> = {};
let n = 0;

function sh(cmd: string[], cwd?: string, env?: Record<string, string>): string {
  const r = Bun.spawnSync(cmd, {
    cwd,
    env: env ?? (process.env as Record<string, string>),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0)
    throw new Error(`${cmd.join(" ")}: exit ${r.exitCode}\n${r.stdout.toString()}${r.stderr.toString()}`);
  return r.stdout.toString();
}

const sha256 = (file: string) => new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex");

function writeSourcePackage(version: string) {
  const dir = join(tmp, "build", `${PKG}-${version}`);
  mkdirSync(join(dir, "debian/source"), { recursive: true });
  writeFileSync(join(dir, "debian/source/format"), "3.0 (native)\n");
  writeFileSync(
    join(dir, "debian/control"),
    `Source: ${PKG}\nSection: libs\nPriority: optional\nMaintainer: aod test <aod-test@invalid>\nStandards-Version: 4.6.2\n\n` +
      `Package: libaodtest1\nArchitecture: any\nDescription: aod test library\n a tiny test package\n`,
  );
  writeFileSync(
    join(dir, "debian/changelog"),
    `${PKG} (${version}) ${SUITE}; urgency=medium\n\n  * Test version ${version}.\n\n -- aod test <aod-test@invalid>  Mon, 01 Jan 2024 00:00:00 +0000\n`,
  );
  writeFileSync(join(dir, "debian/rules"), "#!/usr/bin/make -f\n%:\n\tdh $@\n");
  chmodSync(join(dir, "debian/rules"), 0o755);
  writeFileSync(join(dir, "aodtest.c"), `const char *aodtest_version = "${version}";\n`);
  const pool = join(repo, "pool/main/a", PKG);
  mkdirSync(pool, { recursive: true });
  sh(["dpkg-source", "-b", dir], pool); // writes the .dsc and .tar.xz into the pool
  sha[version] = sha256(join(pool, `${PKG}_${version}.dsc`));
}

function writeRelease() {
  const dists = join(repo, "dists", SUITE);
  const srcdir = join(dists, "main/source");
  mkdirSync(srcdir, { recursive: true });
  const sources = sh(["dpkg-scansources", "pool", "/dev/null"], repo);
  expect(sources).toContain(`Package: ${PKG}`);
  writeFileSync(join(srcdir, "Sources"), sources);
  writeFileSync(join(srcdir, "Sources.gz"), Bun.gzipSync(Buffer.from(sources)));
  const files = ["main/source/Sources", "main/source/Sources.gz"];
  if (Bun.which("xz")) {
    sh(["xz", "-k", "-f", join(srcdir, "Sources")]);
    files.push("main/source/Sources.xz");
  }
  const sums = (algo: "md5" | "sha256") =>
    files
      .map((f) => {
        const data = readFileSync(join(dists, f));
        return ` ${new Bun.CryptoHasher(algo).update(data).digest("hex")} ${data.length} ${f}`;
      })
      .join("\n");
  writeFileSync(
    join(dists, "Release"),
    `Origin: aod-test\nLabel: aod-test\nSuite: ${SUITE}\nCodename: ${SUITE}\nDate: ${new Date().toUTCString().replace("GMT", "+0000")}\n` +
      `Architectures: amd64 source\nComponents: main\nDescription: aod test repository\n` +
      `MD5Sum:\n${sums("md5")}\nSHA256:\n${sums("sha256")}\n`,
  );
  const gpg = ["gpg", "--batch", "--homedir", gnupg, "--yes"];
  sh([...gpg, "--clearsign", "-o", join(dists, "InRelease"), join(dists, "Release")]);
  sh([...gpg, "--detach-sign", "-o", join(dists, "Release.gpg"), join(dists, "Release")]);
}

beforeAll(() => {
  if (skip) return;
  tmp = tempDir("aod-libs-test-");
  repo = join(tmp, "repo");
  gnupg = join(tmp, "gnupg");
  mkdirSync(gnupg, { mode: 0o700 });
  // A throwaway signing key; apt trusts only it (signed-by), not [trusted=yes].
  sh([
    "gpg",
    "--batch",
    "--homedir",
    gnupg,
    "--pinentry-mode",
    "loopback",
    "--passphrase",
    "",
    "--quick-gen-key",
    "aod test repository <aod-test@invalid>",
    "ed25519",
    "sign",
    "never",
  ]);
  writeFileSync(join(tmp, "key.gpg"), Bun.spawnSync(["gpg", "--homedir", gnupg, "--export"]).stdout);
  writeSourcePackage("1.0");
  writeSourcePackage("1.1");
  writeRelease();
  // The index lists 1.1, the mirror does not serve all of it.
  unlinkSync(join(repo, "pool/main/a", PKG, `${PKG}_1.1.tar.xz`));

  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = normalize(decodeURIComponent(new URL(req.url).pathname));
      const file = join(repo, path);
      if (!file.startsWith(`${repo}/`) || !existsSync(file)) return new Response("Not Found", { status: 404 });
      return new Response(Bun.file(file));
    },
  });
  const etc = join(tmp, "etc");
  mkdirSync(etc);
  writeFileSync(
    join(etc, "sources.list"),
    `deb [signed-by=${join(tmp, "key.gpg")}] http://127.0.0.1:${server.port}/ ${SUITE} main\n`,
  );
  Object.assign(baseEnv, { APT_ETC: etc, LIBS_CODENAME: SUITE });
});

afterAll(() => {
  server?.stop(true);
  if (gnupg) Bun.spawnSync(["gpgconf", "--homedir", gnupg, "--kill", "all"]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A lock file naming the test package at VERSION with SHA. */
function lock(version: string, hash: string): string {
  const file = join(tmp, `lock-${++n}`);
  writeFileSync(file, `# test lock\n#   LIBRARY SOURCE-PACKAGE VERSION SHA256\naodlib ${PKG} ${version} ${hash}\n`);
  return file;
}

/** Runs a scripts/libs script with its own cache (and lock); async: the server answers meanwhile. */
async function run(
  script: string,
  args: string[],
  opts: { lock: string; cache?: string; env?: Record<string, string> },
) {
  const cache = opts.cache ?? join(tmp, `cache-${++n}`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("LIBS_") && k !== "V") env[k] = v;
  Object.assign(env, baseEnv, { LIBS_CACHE: cache, LIBS_LOCK: opts.lock }, opts.env ?? {});
  const p = Bun.spawn([join(LIBS, script), ...args], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, stdout: stdout.trim(), stderr, cache, src: join(cache, "src") };
}

const dsc = (version: string) => `${PKG}_${version}.dsc`;

describe("scripts/libs/sources.lock", () => {
  test.skipIf(!!skip)("(a) the locked version is downloaded, whatever newer .dsc the cache holds", async () => {
    const cache = join(tmp, "cache-a");
    mkdirSync(join(cache, "src"), { recursive: true });
    // The old build picked the newest cached .dsc: a newer one must not win over the lock.
    copyFileSync(join(repo, "pool/main/a", PKG, dsc("1.1")), join(cache, "src", dsc("1.1")));
    const r = await run("fetch-source.sh", ["aodlib"], { lock: lock("1.0", sha["1.0"]!), cache });
    expect(r.stderr).not.toContain("WARNING");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(join(r.src, dsc("1.0")));
    expect(sha256(r.stdout)).toBe(sha["1.0"]!);
    expect(existsSync(join(r.src, `${PKG}_1.0.tar.xz`))).toBe(true);
    // Second run: from the cache, same answer.
    const again = await run("fetch-source.sh", ["aodlib"], { lock: lock("1.0", sha["1.0"]!), cache });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(r.stdout);
    expect(again.stderr).not.toContain("FETCH");
  });

  test.skipIf(!!skip)(
    "(b) a locked version the mirror does not serve: fallback to the newest that downloads, loudly",
    async () => {
      const r = await run("fetch-source.sh", ["aodlib"], { lock: lock("1.1", sha["1.1"]!) });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(join(r.src, dsc("1.0")));
      // What failed, from which suite, what to do.
      expect(r.stderr).toContain(`${PKG}_1.1.tar.xz`);
      expect(r.stderr).toContain(`${SUITE}/main`);
      expect(r.stderr).toContain("404");
      expect(r.stderr).toContain("update-lock.sh");
      expect(r.stderr).toContain("LIBS_STRICT=1");
      // The warning names both versions and says how the fallback is verified.
      expect(r.stderr).toContain("WARNING");
      expect(r.stderr).toContain(`building from ${PKG} 1.0, NOT the locked ${PKG} 1.1`);
      expect(r.stderr).toContain("no sha256 in the lock");
      // Nothing of the incomplete 1.1 in the cache.
      expect(existsSync(join(r.src, dsc("1.1")))).toBe(false);
    },
  );

  test.skipIf(!!skip)("(c) LIBS_STRICT=1: the same explanation, and an error instead of the fallback", async () => {
    const r = await run("fetch-source.sh", ["aodlib"], { lock: lock("1.1", sha["1.1"]!), env: { LIBS_STRICT: "1" } });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${PKG} 1.1 cannot be downloaded`);
    expect(r.stderr).toContain(`${PKG}_1.1.tar.xz`);
    expect(r.stderr).toContain(`${SUITE}/main`);
    expect(r.stderr).toContain("update-lock.sh");
    expect(r.stderr).toContain("LIBS_STRICT=1");
    expect(r.stderr).not.toContain("WARNING");
    expect(existsSync(join(r.src, dsc("1.0")))).toBe(false);
  });

  test.skipIf(!!skip)("(d) a .dsc whose sha256 is not the lock's is an error naming both", async () => {
    const wrong = "0".repeat(64);
    const r = await run("fetch-source.sh", ["aodlib"], { lock: lock("1.0", wrong) });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(wrong);
    expect(r.stderr).toContain(sha["1.0"]!);
    expect(r.stderr).not.toContain("WARNING");
    expect(existsSync(join(r.src, dsc("1.0")))).toBe(false); // not cached
    // A cached .dsc is checked too.
    const good = await run("fetch-source.sh", ["aodlib"], { lock: lock("1.0", sha["1.0"]!) });
    expect(good.code).toBe(0);
    const cached = await run("fetch-source.sh", ["aodlib"], { lock: lock("1.0", wrong), cache: good.cache });
    expect(cached.code).not.toBe(0);
    expect(cached.stderr).toContain(wrong);
    expect(cached.stderr).toContain(sha["1.0"]!);
  });

  test.skipIf(!!skip)("(e) update-lock.sh moves the lock to the newest version that downloads", async () => {
    const file = lock("1.1", sha["1.1"]!);
    const r = await run("update-lock.sh", [], { lock: file });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`SKIP     ${PKG} 1.1`);
    expect(r.stdout).toContain(`${PKG}_1.1.tar.xz`);
    expect(r.stdout).toContain(`aodlib   ${PKG} 1.1 -> 1.0`);
    const text = readFileSync(file, "utf8");
    expect(text.startsWith("# test lock\n#   LIBRARY SOURCE-PACKAGE VERSION SHA256\n")).toBe(true); // comments kept
    const lines = text.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines.map((l) => l.split(/\s+/))).toEqual([["aodlib", PKG, "1.0", sha["1.0"]!]]);
    expect(readdirSync(tmp).filter((f) => f.startsWith(`${basename(file)}.tmp`))).toEqual([]); // written via tmp + mv
    // The new lock builds without a fallback; a second update changes nothing.
    const f = await run("fetch-source.sh", ["aodlib"], { lock: file });
    expect(f.code).toBe(0);
    expect(f.stderr).not.toContain("WARNING");
    const again = await run("update-lock.sh", [], { lock: file });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`aodlib   ${PKG} 1.0 (unchanged)`);
    expect(again.stdout).toContain(`LOCK     ${file} unchanged`);
  });

  test.skipIf(!!skip)("(f) apt trusts the repository's own key only (signed-by, not trusted=yes)", async () => {
    const other = join(tmp, "gnupg-other");
    mkdirSync(other, { mode: 0o700 });
    sh([
      "gpg",
      "--batch",
      "--homedir",
      other,
      "--pinentry-mode",
      "loopback",
      "--passphrase",
      "",
      "--quick-gen-key",
      "not the repository <other@invalid>",
      "ed25519",
      "sign",
      "never",
    ]);
    writeFileSync(join(tmp, "other.gpg"), Bun.spawnSync(["gpg", "--homedir", other, "--export"]).stdout);
    Bun.spawnSync(["gpgconf", "--homedir", other, "--kill", "all"]);
    const etc = join(tmp, "etc-other");
    mkdirSync(etc);
    const list = readFileSync(join(baseEnv.APT_ETC!, "sources.list"), "utf8").replace(
      join(tmp, "key.gpg"),
      join(tmp, "other.gpg"),
    );
    writeFileSync(join(etc, "sources.list"), list);
    const r = await run("fetch-source.sh", ["aodlib"], { lock: lock("1.0", sha["1.0"]!), env: { APT_ETC: etc } });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/NO_PUBKEY|not signed|signatures/);
  });
});
