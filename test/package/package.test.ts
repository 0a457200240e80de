// The deb and rpm of `make package` (scripts/package/build.sh), built here from
// dist/aod without compression (PKG_COMPRESS=none: xz takes a minute) into a
// temporary directory: their metadata, files and modes, the unit from the
// binary's own generator, version ordering, and their maintainer scripts run
// for real by dpkg --root and rpm --root in a copy of the Debian 11 root of
// the glibc test (.cache/glibc, when cached), once with neither systemd nor
// systemctl, once with a systemctl that logs what it is asked.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packagedMessage, packageOwning } from "../../src/cli/install";
import { DEFAULT_CONFIG_TEXT } from "../../src/config/load";
import { BIN_PATH, CONFIG_PATH, unitText } from "../../src/install/unit";
import { parseConfigText } from "../../src/registry";
import { AOD, isRoot, ROOT, skipReason, tempDir } from "../helpers";

const BUILD = join(ROOT, "scripts/package/build.sh");
const VERSION_SH = join(ROOT, "scripts/package/version.sh");
const ROOTFS_TAR = join(process.env.GLIBC_ROOTFS_CACHE ?? join(ROOT, ".cache/glibc"), "bullseye-rootfs.tar");
const config = parseConfigText(DEFAULT_CONFIG_TEXT, "default");
const OUTPUT_DIR = config.aod_output_dir;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function run(argv: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(argv, { env: { ...process.env, PATH, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function ok(argv: string[], env: Record<string, string> = {}): string {
  const r = run(argv, env);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: exit ${r.code}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const sha256 = (file: string) => new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex");
const mode = (file: string) => (statSync(file).mode & 0o7777).toString(8).padStart(4, "0");

const missingTools = () =>
  skipReason({
    "dist/aod not built (make build)": !existsSync(AOD),
    "dpkg-deb not installed (dpkg)": !Bun.which("dpkg-deb"),
    "rpmbuild not installed (apt-get install rpm, or make deps)": !Bun.which("rpmbuild") || !Bun.which("rpm"),
  });

interface Built {
  deb: string;
  rpm: string;
}
const built = new Map<string, Built>();
const dirs: string[] = [];

/** Builds the packages once per version override ("" = version.sh's). */
function build(versions: Record<string, string> = {}): Built {
  const key = JSON.stringify(versions);
  const have = built.get(key);
  if (have) return have;
  const out = tempDir("aod-package-");
  dirs.push(out);
  const t0 = performance.now();
  const paths = ok([BUILD, AOD, out], { PKG_COMPRESS: "none", ...versions })
    .trim()
    .split("\n");
  console.log(`packages built in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${paths.join(" ")}`);
  const b = { deb: paths.find((p) => p.endsWith(".deb"))!, rpm: paths.find((p) => p.endsWith(".rpm"))! };
  built.set(key, b);
  return b;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("versions", () => {
  test("version.sh: a development build (commit date, short hash), a tagged release", () => {
    if (skipReason({ "git not installed": !Bun.which("git") })) return;
    const repo = tempDir("aod-version-");
    dirs.push(repo);
    writeFileSync(join(repo, "package.json"), '{\n  "name": "aod",\n  "version": "0.2.0",\n  "private": true\n}\n');
    const env = {
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.org",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.org",
      GIT_AUTHOR_DATE: "2026-12-01T23:30:00+00:00",
      GIT_COMMITTER_DATE: "2026-12-01T23:30:00-05:00", // 2026-12-02 in UTC: the date is UTC's
      GIT_CONFIG_GLOBAL: "/dev/null",
    };
    ok(["git", "-C", repo, "init", "-q"], env);
    ok(["git", "-C", repo, "add", "package.json"], env);
    ok(["git", "-C", repo, "commit", "-q", "-m", "c"], env);
    const hash = ok(["git", "-C", repo, "rev-parse", "--short", "HEAD"]).trim();
    expect(ok([VERSION_SH, repo]).trim()).toBe(`0.2.0~git20261202.${hash} 0.2.0 0.20261202git${hash}`);
    ok(["git", "-C", repo, "tag", "v0.1.9"], env); // another version's tag is no release of this one
    expect(ok([VERSION_SH, repo]).trim()).toStartWith("0.2.0~git");
    ok(["git", "-C", repo, "tag", "v0.2.0"], env);
    expect(ok([VERSION_SH, repo]).trim()).toBe("0.2.0 0.2.0 1");
    writeFileSync(join(repo, "package.json"), '{\n  "version": "0.2.0-rc1",\n}\n');
    const bad = run([VERSION_SH, repo]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("is not MAJOR.MINOR.PATCH");
  });

  test("dev < release < next dev, for dpkg and for rpm", () => {
    if (skipReason({ "dpkg not installed": !Bun.which("dpkg"), "rpm not installed": !Bun.which("rpm") })) return;
    const deb = ["0.2.0~git20261201.8970211", "0.2.0~git20261202.0123abc", "0.2.0", "0.2.1~git20261205.abcdef0"];
    for (let i = 0; i + 1 < deb.length; i++)
      expect(run(["dpkg", "--compare-versions", deb[i]!, "lt", deb[i + 1]!]).code).toBe(0);
    const rpm = ["0.2.0-0.20261201git8970211", "0.2.0-0.20261202git0123abc", "0.2.0-1", "0.2.1-0.20261205gitabcdef0"];
    const vercmp = (a: string, b: string) => ok(["rpm", "--eval", `%{lua: print(rpm.vercmp("${a}", "${b}"))}`]).trim();
    for (let i = 0; i + 1 < rpm.length; i++) {
      expect(vercmp(rpm[i]!, rpm[i + 1]!)).toBe("-1");
      expect(vercmp(rpm[i + 1]!, rpm[i]!)).toBe("1");
    }
  });
});

describe("the packages", () => {
  test("file names and versions follow version.sh", () => {
    if (missingTools()) return;
    const { deb, rpm } = build();
    const [dv, rv, rr] = ok([VERSION_SH]).trim().split(" ");
    expect(deb).toEndWith(`/aod_${dv}_amd64.deb`);
    expect(rpm).toEndWith(`/aod-${rv}-${rr}.x86_64.rpm`);
    expect(ok(["dpkg-deb", "-f", deb, "Version"]).trim()).toBe(dv!);
    expect(ok(["rpm", "-qp", "--qf", "%{VERSION}-%{RELEASE}", rpm])).toBe(`${rv}-${rr}`);
    // Nothing left behind in the output directory but the two packages.
    expect(
      Bun.spawnSync(["ls", "-A", join(deb, "..")])
        .stdout.toString()
        .trim()
        .split("\n")
        .sort(),
    ).toEqual([deb, rpm].map((p) => p.split("/").pop()!).sort());
  });

  test("deb: control fields, conffiles, maintainer scripts, owners and modes", () => {
    if (missingTools()) return;
    const { deb } = build();
    const info = ok(["dpkg-deb", "-I", deb]);
    for (const f of ["Package: aod", "Architecture: amd64", "Depends: libc6 (>= 2.17)", "Section: admin"])
      expect(info).toContain(` ${f}\n`);
    expect(info).toMatch(/ Installed-Size: \d{5,}\n/);
    expect(info).toMatch(/ Maintainer: .+ <.+>\n/);
    const ctl = tempDir("aod-deb-control-");
    dirs.push(ctl);
    ok(["dpkg-deb", "-e", deb, ctl]);
    expect(readFileSync(join(ctl, "conffiles"), "utf8")).toBe("/etc/aod/config.yaml\n");
    for (const s of ["preinst", "postinst", "prerm", "postrm"]) {
      expect(mode(join(ctl, s))).toBe("0755");
      expect(run(["sh", "-n", join(ctl, s)]).code).toBe(0);
    }
    expect(readFileSync(join(ctl, "postrm"), "utf8")).toContain(
      `rm -rf "$root/etc/aod" "$root/var/lib/aod" "$root${OUTPUT_DIR}"`,
    );

    // "drwx------ root/root 0 2026-12-01 12:00 ./var/lib/aod/"
    const entries = new Map(
      ok(["dpkg-deb", "-c", deb])
        .trim()
        .split("\n")
        .map((l) => l.split(/\s+/))
        .map((c) => [c[5]!.replace(/^\.\//, "/").replace(/(.)\/$/, "$1"), `${c[0]} ${c[1]}`]),
    );
    expect(entries.get("/usr/bin/aod")).toBe("-rwxr-xr-x root/root");
    expect(entries.get("/usr/lib/systemd/system/aod.service")).toBe("-rw-r--r-- root/root");
    expect(entries.get("/etc/aod")).toBe("drwxr-xr-x root/root");
    expect(entries.get("/etc/aod/config.yaml")).toBe("-rw------- root/root");
    expect(entries.get("/var/lib/aod")).toBe("drwx------ root/root");
    expect(entries.get(OUTPUT_DIR)).toBe("drwx------ root/root");
    expect([...entries.values()].every((v) => v.endsWith(" root/root"))).toBe(true);
  });

  test("the packaged unit is `aod install`'s, with /usr/bin/aod; the config is the embedded default", () => {
    if (missingTools()) return;
    const { deb } = build();
    const x = tempDir("aod-deb-x-");
    dirs.push(x);
    ok(["dpkg-deb", "-x", deb, x]);
    const unit = readFileSync(join(x, "usr/lib/systemd/system/aod.service"), "utf8");
    expect(unit).toBe(unitText(config, CONFIG_PATH, "/usr/bin/aod", "package"));
    expect(unit).toBe(ok([AOD, "_unit", "--bin", "/usr/bin/aod", "--packaged"]));
    // Against what `aod install` writes: only the first comment line and the binary path differ.
    const installed = unitText(config).replace(`ExecStart=${BIN_PATH} `, "ExecStart=/usr/bin/aod ");
    expect(unit.split("\n").slice(1)).toEqual(installed.split("\n").slice(1));
    expect(unit.split("\n")[0]).toContain("aod package");
    expect(unit).toContain("ExecReload=/bin/kill -HUP $MAINPID"); // systemctl reload: SIGHUP re-reads the config
    expect(readFileSync(join(x, "etc/aod/config.yaml"), "utf8")).toBe(DEFAULT_CONFIG_TEXT);
    expect(sha256(join(x, "usr/bin/aod"))).toBe(sha256(AOD)); // as built: no strip
  });

  test("rpm: files, owners and modes, config(noreplace), scriptlets, requirements", () => {
    if (missingTools()) return;
    const { rpm } = build();
    const files = ok([
      "rpm",
      "-qp",
      "--qf",
      "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\\n]",
      rpm,
    ])
      .trim()
      .split("\n")
      .sort();
    expect(files).toEqual(
      [
        "drwxr-xr-x root:root /etc/aod",
        "-rw------- root:root /etc/aod/config.yaml",
        "-rwxr-xr-x root:root /usr/bin/aod",
        "-rw-r--r-- root:root /usr/lib/systemd/system/aod.service",
        "drwx------ root:root /var/lib/aod",
        `drwx------ root:root ${OUTPUT_DIR}`,
      ].sort(),
    );
    expect(ok(["rpm", "-qpl", rpm]).trim().split("\n").sort()).toEqual(files.map((f) => f.split(" ")[2]!).sort());
    expect(ok(["rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\\n]", rpm])).toContain(
      "cn /etc/aod/config.yaml\n",
    );
    const scripts = ok(["rpm", "-qp", "--scripts", rpm]);
    for (const s of ["preinstall", "postinstall", "preuninstall", "postuninstall"])
      expect(scripts).toContain(`${s} scriptlet (using /bin/sh):`);
    for (const s of [
      "systemctl enable aod.service",
      "systemctl start aod.service",
      "systemctl try-restart aod.service",
    ])
      expect(scripts).toContain(s);
    expect(scripts).toContain("systemctl stop aod.service");
    expect(scripts).toContain("systemctl disable aod.service");
    // Each scriptlet parses.
    for (const tag of ["PREIN", "POSTIN", "PREUN", "POSTUN"]) {
      const f = join(tempDir("aod-rpm-s-"), tag);
      dirs.push(join(f, ".."));
      writeFileSync(f, ok(["rpm", "-qp", "--qf", `%{${tag}}`, rpm]));
      expect(run(["sh", "-n", f]).code).toBe(0);
    }
    const requires = ok(["rpm", "-qp", "--requires", rpm]);
    expect(requires).toContain("libc.so.6(GLIBC_2.17)(64bit)");
    expect(requires).not.toMatch(/GLIBC_2\.(1[89]|[2-9]\d)/); // the glibc floor, 2.17
  });
});

/** A fresh copy of the Debian 11 root filesystem, with a systemctl that logs its calls when asked. */
function bullseyeRoot(): string {
  const dir = tempDir("aod-pkg-root-");
  dirs.push(dir);
  // Without documentation and translations: half the time, and no script here reads them.
  const skip = ["locale", "doc", "man", "info"].map((d) => `--exclude=./usr/share/${d}`);
  ok(["tar", "-xf", ROOTFS_TAR, "-C", dir, "--numeric-owner", ...skip]);
  return dir;
}
const FAKE_SYSTEMCTL = `#!/bin/sh
echo "$*" >>/var/log/systemctl.log
case "$1" in is-enabled) echo enabled ;; esac
exit 0
`;
function addSystemctl(root: string, systemdRuns: boolean): () => string[] {
  writeFileSync(join(root, "usr/bin/systemctl"), FAKE_SYSTEMCTL);
  chmodSync(join(root, "usr/bin/systemctl"), 0o755);
  if (systemdRuns) mkdirSync(join(root, "run/systemd/system"), { recursive: true });
  else rmSync(join(root, "run/systemd/system"), { recursive: true, force: true });
  const log = join(root, "var/log/systemctl.log");
  writeFileSync(log, "");
  return () => readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
}

const missingRoot = () =>
  missingTools() ||
  skipReason({
    "needs root (dpkg --root and rpm --root run the scripts in a chroot)": !isRoot,
    [`no cached Debian 11 root (${ROOTFS_TAR}; test/glibc/rootfs.sh builds it)`]: !existsSync(ROOTFS_TAR),
    "unshare/chroot not installed": !Bun.which("unshare") || !Bun.which("chroot"),
  });

function expectInstalled(root: string) {
  expect(mode(join(root, "usr/bin/aod"))).toBe("0755");
  expect(mode(join(root, "usr/lib/systemd/system/aod.service"))).toBe("0644");
  expect(mode(join(root, "etc/aod/config.yaml"))).toBe("0600");
  expect(mode(join(root, "var/lib/aod"))).toBe("0700");
  expect(mode(join(root, OUTPUT_DIR.slice(1)))).toBe("0700");
  expect(statSync(join(root, "usr/bin/aod")).size).toBe(statSync(AOD).size);
}

/** `aod install --dry-run` inside the root: chroot in a private mount namespace, with /proc (the binary reads itself from /proc/self/exe). */
function aodInstallIn(root: string) {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return run([
    "unshare",
    "-m",
    "--propagation",
    "private",
    "sh",
    "-c",
    `mount -t proc proc ${q(root)}/proc && exec chroot ${q(root)} /usr/bin/aod install --dry-run`,
  ]);
}

describe("installed in a Debian 11 root", () => {
  test("deb: install, upgrade, remove, purge; without systemd, with it; aod install refuses", () => {
    if (missingRoot()) return;
    const v1 = build();
    const [, rpmVersion] = ok([VERSION_SH]).trim().split(" ");
    const v2 = build({ DEB_VERSION: rpmVersion!, RPM_VERSION: rpmVersion!, RPM_RELEASE: "1" }); // the release
    const root = bullseyeRoot();
    const dpkg = (...args: string[]) => run(["dpkg", `--root=${root}`, "--force-unsafe-io", ...args]); // no fsync: a throwaway root
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format
    const format = "${db:Status-Abbrev}${Version}"; // "ii 0.1.0", "rc 0.1.0", "" when purged
    const status = () => run(["dpkg-query", `--admindir=${root}/var/lib/dpkg`, "-W", "-f", format, "aod"]).stdout;

    // No systemd, no systemctl (a container, an image being built): the scripts do their part and succeed.
    expect(existsSync(join(root, "usr/bin/systemctl"))).toBe(false);
    let r = dpkg("-i", v1.deb);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expectInstalled(root);
    expect(readFileSync(join(root, "etc/aod/config.yaml"), "utf8")).toBe(DEFAULT_CONFIG_TEXT);
    expect(existsSync(join(root, "var/lib/aod/.package-install"))).toBe(false); // the preinst's marker, gone
    expect(status()).toStartWith("ii ");

    // aod install refuses, naming the package and what to do instead.
    const refused = aodInstallIn(root);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('/usr/bin/aod belongs to the Debian package "aod"');
    expect(refused.stderr).toContain("sudo apt remove aod");
    expect(refused.stdout).not.toContain("would ");

    expect(dpkg("--purge", "aod").code).toBe(0);
    expect(existsSync(join(root, "usr/bin/aod"))).toBe(false);
    expect(existsSync(join(root, "etc/aod"))).toBe(false);

    // systemctl present, systemd not running (a chroot): enabled on install, nothing started.
    let calls = addSystemctl(root, false);
    expect(dpkg("-i", v1.deb).code).toBe(0);
    expect(calls()).toEqual(["enable aod.service"]);

    // systemd running: an upgrade reloads and restarts, keeps the admin's config, does not enable again.
    calls = addSystemctl(root, true);
    const mine = `${DEFAULT_CONFIG_TEXT}# changed by the admin\n`;
    writeFileSync(join(root, "etc/aod/config.yaml"), mine);
    r = dpkg("-i", v2.deb);
    expect(r.code).toBe(0);
    expect(status()).toBe(`ii ${rpmVersion}`);
    expect(calls()).toEqual(["--system daemon-reload", "try-restart aod.service"]);
    expect(readFileSync(join(root, "etc/aod/config.yaml"), "utf8")).toBe(mine);
    expectInstalled(root);

    // Removal: stopped and disabled; config, state and bundles stay.
    calls = addSystemctl(root, true);
    writeFileSync(join(root, OUTPUT_DIR.slice(1), "bundle.tar.zst"), "x");
    r = dpkg("-r", "aod");
    expect(r.code).toBe(0);
    expect(calls()).toEqual(["stop aod.service", "disable aod.service", "--system daemon-reload"]);
    expect(existsSync(join(root, "usr/bin/aod"))).toBe(false);
    expect(existsSync(join(root, "usr/lib/systemd/system/aod.service"))).toBe(false);
    expect(readFileSync(join(root, "etc/aod/config.yaml"), "utf8")).toBe(mine);
    expect(existsSync(join(root, OUTPUT_DIR.slice(1), "bundle.tar.zst"))).toBe(true);
    expect(status()).toStartWith("rc ");

    // Installed again after that removal: an install (enabled, started), not an upgrade; the config is kept.
    calls = addSystemctl(root, true);
    expect(dpkg("-i", v2.deb).code).toBe(0);
    expect(calls()).toContain("enable aod.service");
    expect(calls()).toContain("start aod.service");
    expect(calls()).not.toContain("try-restart aod.service");
    expect(readFileSync(join(root, "etc/aod/config.yaml"), "utf8")).toBe(mine);

    // Purge: the config, the state and the bundles go.
    mkdirSync(join(root, "var/lib/aod/cifs_verbose"), { recursive: true });
    expect(dpkg("--purge", "aod").code).toBe(0);
    for (const p of ["etc/aod", "var/lib/aod", OUTPUT_DIR.slice(1), "usr/bin/aod"])
      expect(existsSync(join(root, p))).toBe(false);
    expect(status()).toBe("");

    // Over `aod install`'s service: refused by the preinst, nothing installed.
    mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
    writeFileSync(join(root, "etc/systemd/system/aod.service"), unitText(config));
    r = dpkg("-i", v1.deb);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("written by `aod install`");
    expect(r.stderr).toContain("sudo aod uninstall");
    expect(existsSync(join(root, "usr/bin/aod"))).toBe(false);
  }, 120_000);

  test("rpm: install, upgrade, erase; without systemd, with it", () => {
    if (missingRoot()) return;
    const v1 = build();
    const [, rpmVersion] = ok([VERSION_SH]).trim().split(" ");
    const v2 = build({ DEB_VERSION: rpmVersion!, RPM_VERSION: rpmVersion!, RPM_RELEASE: "1" });
    const root = bullseyeRoot();
    // Debian's rpm warns that it is not Debian's package manager ("use Alien"); --nodeps: glibc is dpkg's here.
    const rpm = (...args: string[]) => {
      const r = run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", ...args]);
      return { ...r, stderr: r.stderr.replace(/^rpm: (RPM should not be used directly|However assuming).*\n/gm, "") };
    };

    let r = rpm("-i", "--nodeps", v1.rpm);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expectInstalled(root);
    expect(readFileSync(join(root, "etc/aod/config.yaml"), "utf8")).toBe(DEFAULT_CONFIG_TEXT);
    expect(rpm("-q", "--qf", "%{VERSION}-%{RELEASE}", "aod").stdout).toBe(
      ok(["rpm", "-qp", "--qf", "%{VERSION}-%{RELEASE}", v1.rpm]),
    );
    expect(rpm("-e", "aod").code).toBe(0);
    expect(existsSync(join(root, "usr/bin/aod"))).toBe(false);

    let calls = addSystemctl(root, false);
    expect(rpm("-i", "--nodeps", v1.rpm).code).toBe(0);
    expect(calls()).toEqual(["enable aod.service"]);

    calls = addSystemctl(root, true);
    const mine = `${DEFAULT_CONFIG_TEXT}# changed by the admin\n`;
    writeFileSync(join(root, "etc/aod/config.yaml"), mine);
    r = rpm("-U", "--nodeps", v2.rpm);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(rpm("-q", "aod").stdout.trim()).toBe(`aod-${rpmVersion}-1.x86_64`);
    expect(calls()).toEqual(["daemon-reload", "try-restart aod.service", "daemon-reload"]);
    expect(readFileSync(join(root, "etc/aod/config.yaml"), "utf8")).toBe(mine);
    expectInstalled(root);

    calls = addSystemctl(root, true);
    writeFileSync(join(root, OUTPUT_DIR.slice(1), "bundle.tar.zst"), "x");
    r = rpm("-e", "aod");
    expect(r.code).toBe(0);
    expect(calls()).toEqual(["stop aod.service", "disable aod.service", "daemon-reload"]);
    expect(existsSync(join(root, "usr/bin/aod"))).toBe(false);
    expect(readFileSync(join(root, "etc/aod/config.yaml.rpmsave"), "utf8")).toBe(mine); // rpm keeps a changed config
    expect(existsSync(join(root, OUTPUT_DIR.slice(1), "bundle.tar.zst"))).toBe(true);

    mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
    writeFileSync(join(root, "etc/systemd/system/aod.service"), unitText(config));
    r = rpm("-i", "--nodeps", v1.rpm);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("written by `aod install`");
    expect(existsSync(join(root, "usr/bin/aod"))).toBe(false);
  }, 120_000);
});

describe("aod install on a host where a package owns aod", () => {
  const has =
    (...cmds: string[]) =>
    (c: string) =>
      cmds.includes(c) ? `/usr/bin/${c}` : null;
  test("dpkg-query -S names the package; rpm -qf likewise; neither: none", () => {
    const calls: string[][] = [];
    const dpkg = (argv: string[]) => {
      calls.push(argv);
      return argv[0] === "dpkg-query" ? { code: 0, stdout: "aod: /usr/bin/aod\n" } : { code: 1, stdout: "" };
    };
    expect(packageOwning("/usr/bin/aod", has("dpkg-query", "rpm"), dpkg)).toEqual({ manager: "dpkg", name: "aod" });
    expect(calls).toEqual([["dpkg-query", "-S", "/usr/bin/aod"]]);
    const rpm = (argv: string[]) =>
      argv[0] === "rpm" ? { code: 0, stdout: "aod\n" } : { code: 1, stdout: "dpkg-query: no path found\n" };
    expect(packageOwning("/usr/bin/aod", has("dpkg-query", "rpm"), rpm)).toEqual({ manager: "rpm", name: "aod" });
    const none = () => ({ code: 1, stdout: "" });
    expect(packageOwning("/usr/bin/aod", has("dpkg-query", "rpm"), none)).toBeUndefined();
    // Neither tool installed: nothing is run.
    expect(
      packageOwning("/usr/bin/aod", has(), () => {
        throw new Error("ran");
      }),
    ).toBeUndefined();
    // A diversion line is not an owner.
    const diverted = () => ({ code: 0, stdout: "diversion by foo from: /usr/bin/aod\n" });
    expect(packageOwning("/usr/bin/aod", has("dpkg-query"), diverted)).toBeUndefined();
  });
  test("the message says what to do instead", () => {
    expect(packagedMessage({ manager: "dpkg", name: "aod" })).toContain("sudo apt remove aod");
    expect(packagedMessage({ manager: "rpm", name: "aod" })).toContain("sudo dnf remove aod");
    expect(packagedMessage({ manager: "rpm", name: "aod" })).toContain("nothing was changed");
  });
});
