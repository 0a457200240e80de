import { afterEach, describe, expect, test } from "bun:test";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  defaultVerbosePaths,
  releaseVerbose,
  restoreVerboseLeftovers,
  STATE_FILE_NAME,
  type VerbosePaths,
  verboseWindow,
} from "../../src/actions/builtin/cifs_verbose";
import {
  acquireNfsVerbose,
  defaultNfsVerbosePaths,
  hex,
  NFS_DEBUG_RAISED,
  NFS_STATE_FILE_NAME,
  NFSDBG,
  type NfsVerbosePaths,
  nfsVerboseWindow,
  parseFlags,
  parseNfsSaved,
  RPC_DEBUG_RAISED,
  RPCDBG,
  releaseNfsVerbose,
} from "../../src/actions/builtin/nfs_verbose";
import type { ActionContext } from "../../src/actions/context";
import { DEFAULT_CONFIG_TEXT } from "../../src/config/load";
import { unitText } from "../../src/install/unit";
import { parseConfigText } from "../../src/registry";
import { ROOT, skipReason, tempDir } from "../helpers";

const text = (d: Uint8Array) => new TextDecoder().decode(d);
const read = (p: string) => readFileSync(p, "utf8");

/** Temp files standing in for /proc/sys/sunrpc/{nfs,rpc}_debug as the kernel prints them; the state dir under the temp dir. */
function setup(nfs = "0x0000\n", rpc = "0x0000\n"): NfsVerbosePaths & { dir: string } {
  const dir = tempDir("aod-nfs-verbose-");
  writeFileSync(join(dir, "nfs_debug"), nfs);
  writeFileSync(join(dir, "rpc_debug"), rpc);
  return {
    dir,
    nfsDebug: join(dir, "nfs_debug"),
    rpcDebug: join(dir, "rpc_debug"),
    stateFile: join(dir, "state", NFS_STATE_FILE_NAME),
    kmsg: "/dev/kmsg",
  };
}

/** cifs_verbose's stand-ins beside them, in the same state dir (cifsFYI only: no dynamic debug). */
function cifsBeside(p: { dir: string }): VerbosePaths {
  writeFileSync(join(p.dir, "cifsFYI"), "0\n");
  return {
    fyi: join(p.dir, "cifsFYI"),
    control: undefined,
    stateFile: join(p.dir, "state", STATE_FILE_NAME),
    kmsg: "/dev/kmsg",
  };
}

function ctx(verbose_sec: number, signal = new AbortController().signal) {
  const collection = { ...parseConfigText("", "t").collection, verbose_sec };
  return { detectedAtMs: Date.now(), collection, signal, capBytes: 1 << 20 } as ActionContext;
}

const RAISED_NFS = String(NFS_DEBUG_RAISED);
const RAISED_RPC = String(RPC_DEBUG_RAISED);

const kmsgUsable = (() => {
  try {
    accessSync("/dev/kmsg", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
})();
const skip = skipReason({ "needs /dev/kmsg readable and writable (root)": !kmsgUsable });

afterEach(() => {
  // A test that failed mid-window must not leave this process's windows open for the next one.
  for (let i = 0; i < 4; i++) {
    releaseNfsVerbose();
    releaseVerbose();
  }
});

describe("nfs_verbose: flags and records", () => {
  test("the flags are the kernel's, and the raised set is the documented one", () => {
    // include/uapi/linux/nfs_fs.h: NFSDBG_ALL 0xffff; include/uapi/linux/sunrpc/debug.h: RPCDBG_ALL 0x7fff.
    expect(Object.values(NFSDBG).reduce((a, b) => a | b, 0)).toBe(0xffff);
    expect(Object.values(RPCDBG).reduce((a, b) => a | b, 0) & ~0x7fff).toBe(0);
    expect(hex(NFS_DEBUG_RAISED)).toBe("0x4720"); // xdr callback client mount state
    expect(hex(RPC_DEBUG_RAISED)).toBe("0x00a1"); // xprt bind trans
  });

  test("values as kernels print them: 0x%04x, or decimal on older ones", () => {
    expect(parseFlags("0x0000\n")).toBe(0);
    expect(parseFlags("0x4720")).toBe(0x4720);
    expect(parseFlags("0X7FFF")).toBe(0x7fff);
    expect(parseFlags("18208\n")).toBe(0x4720);
    for (const bad of ["", "x", "-1", "0x", "0x1ffffffff", "4294967296", "1 2"])
      expect(parseFlags(bad)).toBeUndefined();
  });

  test("a record read back is checked before anything of it reaches the kernel", () => {
    const ok = { version: 1, pid: 1, raised_at: "t", nfs_debug: 0, rpc_debug: null };
    expect(parseNfsSaved(JSON.stringify(ok))).toEqual(ok as never);
    for (const bad of [{ nfs_debug: "7; x" }, { nfs_debug: -1 }, { rpc_debug: 2 ** 32 }, { rpc_debug: 1.5 }])
      expect(parseNfsSaved(JSON.stringify({ ...ok, ...bad }))).toBeUndefined();
    expect(parseNfsSaved(JSON.stringify({ version: 1, pid: 1, raised_at: "t", nfs_debug: 0 }))).toBeUndefined();
    // cifs_verbose's record is not nfs_verbose's.
    expect(
      parseNfsSaved(JSON.stringify({ version: 1, pid: 1, raised_at: "t", cifsFYI: "0", dynamic_debug: null })),
    ).toBeUndefined();
    expect(parseNfsSaved("{")).toBeUndefined();
  });

  test("the knobs are /proc/sys/sunrpc's; the record follows AOD_STATE_DIR, else /var/lib/aod, beside cifs_verbose's", () => {
    const saved = process.env.AOD_STATE_DIR;
    try {
      process.env.AOD_STATE_DIR = "/tmp/x";
      expect(defaultNfsVerbosePaths()).toEqual({
        nfsDebug: "/proc/sys/sunrpc/nfs_debug",
        rpcDebug: "/proc/sys/sunrpc/rpc_debug",
        stateFile: "/tmp/x/nfs-verbose-state.json",
        kmsg: "/dev/kmsg",
      });
      delete process.env.AOD_STATE_DIR;
      expect(defaultNfsVerbosePaths().stateFile).toBe("/var/lib/aod/nfs-verbose-state.json");
      expect(defaultNfsVerbosePaths().stateFile).not.toBe(defaultVerbosePaths().stateFile);
    } finally {
      if (saved === undefined) delete process.env.AOD_STATE_DIR;
      else process.env.AOD_STATE_DIR = saved;
    }
  });

  test("the unit keeps /proc/sys/sunrpc writable under ProtectKernelTunables", () => {
    const u = unitText(parseConfigText(DEFAULT_CONFIG_TEXT, "default"));
    expect(u).toMatch(/^ReadWritePaths=.* -\/proc\/fs\/cifs -\/proc\/sys\/sunrpc$/m);
    expect(u).toContain("ProtectKernelTunables=yes");
  });
});

describe("nfs_verbose: the window", () => {
  test.skipIf(!!skip)("records first, raises, collects the window's kernel log, restores exactly", async () => {
    const p = setup();
    const marker = `aod-test nfs_verbose marker ${process.pid}-${Date.now()}`;
    writeFileSync("/dev/kmsg", `<6>${marker} before\n`);
    const run = nfsVerboseWindow(ctx(0.6), p);
    await Bun.sleep(150);
    // Raised (decimal: what every kernel takes), and the previous values on disk in a 0600 file in a 0700 dir.
    expect(read(p.nfsDebug)).toBe(RAISED_NFS);
    expect(read(p.rpcDebug)).toBe(RAISED_RPC);
    expect(statSync(p.stateFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(p.dir, "state")).mode & 0o777).toBe(0o700);
    expect(JSON.parse(read(p.stateFile))).toMatchObject({ version: 1, pid: process.pid, nfs_debug: 0, rpc_debug: 0 });
    writeFileSync("/dev/kmsg", `<6>${marker}\n`);
    const r = await run;
    expect(read(p.nfsDebug)).toBe("0");
    expect(read(p.rpcDebug)).toBe("0");
    expect(existsSync(p.stateFile)).toBe(false);
    const out = text(r.data);
    expect(r.exitStatus).toBeUndefined();
    expect(r.note).toBeUndefined();
    expect(out).toStartWith(
      "# nfs_verbose: the NFS client's and the RPC layer's debug logging (rpcdebug flags) for 0.6 s after the anomaly, then the previous settings restored\n",
    );
    expect(out).toContain(
      "nfs_debug 0x0000 → 0x4720 (+xdr callback client mount state); rpc_debug 0x0000 → 0x00a1 (+xprt bind trans)",
    );
    expect(out).toContain("restored at ");
    expect(out).toContain("nfs_debug back to 0x0000; rpc_debug back to 0x0000\n");
    expect(out).toMatch(new RegExp(`\\n\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${marker}\\n`));
    expect(out).not.toContain(`${marker} before`);
  });

  test.skipIf(!!skip)(
    "flags already set stay set during the window (ORed, like rpcdebug -s) and come back exactly",
    async () => {
      const p = setup("0x0001\n", "2\n"); // vfs set by hand; rpc_debug as an older kernel prints it
      const run = nfsVerboseWindow(ctx(0.3), p);
      await Bun.sleep(100);
      expect(read(p.nfsDebug)).toBe(String(0x4721));
      expect(read(p.rpcDebug)).toBe(String(0xa3));
      const out = text((await run).data);
      expect(read(p.nfsDebug)).toBe("1");
      expect(read(p.rpcDebug)).toBe("2");
      expect(out).toContain("nfs_debug 0x0001 → 0x4721");
      expect(out).toContain("nfs_debug back to 0x0001; rpc_debug back to 0x0002");
    },
  );

  test("no /proc/sys/sunrpc/nfs_debug: one line saying so, nothing written, nothing recorded", async () => {
    const p = setup();
    const missing = { ...p, nfsDebug: join(p.dir, "no-nfs_debug") };
    const r = await nfsVerboseWindow(ctx(5), missing);
    const out = text(r.data);
    expect(out).toBe(
      `# nfs_verbose: no ${missing.nfsDebug} (the sunrpc module is not loaded, or the kernel is built without CONFIG_SUNRPC_DEBUG): nothing changed\n`,
    );
    expect(out.split("\n")).toHaveLength(2); // one line
    expect(r.note).toContain("the sunrpc module is not loaded");
    expect(r.exitStatus).toBeUndefined();
    expect(read(p.rpcDebug)).toBe("0x0000\n");
    expect(existsSync(join(p.dir, "state"))).toBe(false);
  });

  test("nothing could be raised (values /proc cannot be set back to): the record goes, the reason is given", () => {
    const p = setup();
    const ro = { ...p, nfsDebug: "/proc/version", rpcDebug: "/proc/version" };
    const got = acquireNfsVerbose(ro);
    expect(got).toEqual({ error: expect.stringContaining("nothing could be raised") });
    expect(got).toEqual({ error: expect.stringContaining("nfs_debug reads") });
    expect(existsSync(p.stateFile)).toBe(false);
  });

  test.skipIf(!!skip)("an abort (deadline, SIGTERM) restores at once", async () => {
    const p = setup();
    const ac = new AbortController();
    const run = nfsVerboseWindow(ctx(30, ac.signal), p);
    await Bun.sleep(100);
    expect(read(p.nfsDebug)).toBe(RAISED_NFS);
    ac.abort();
    expect(read(p.nfsDebug)).toBe("0");
    expect(read(p.rpcDebug)).toBe("0");
    expect(existsSync(p.stateFile)).toBe(false);
    await run;
  });
});

describe("nfs_verbose: overlapping windows", () => {
  test.skipIf(!!skip)(
    "two anomalies share one raise: restored when the last ends, to the real previous values",
    async () => {
      const p = setup("0x0001\n");
      const first = nfsVerboseWindow(ctx(0.3), p);
      await Bun.sleep(50);
      const second = nfsVerboseWindow(ctx(0.8), p);
      const a = text((await first).data);
      expect(read(p.nfsDebug)).toBe(String(0x4721)); // the second window is still open
      expect(a).toContain("still raised for an overlapping anomaly's window");
      expect(JSON.parse(read(p.stateFile))).toMatchObject({ nfs_debug: 1, rpc_debug: 0 });
      const b = text((await second).data);
      expect(b).toContain("(joined the window another anomaly opened)");
      expect(b).toContain("nfs_debug back to 0x0001");
      expect(read(p.nfsDebug)).toBe("1");
      expect(read(p.rpcDebug)).toBe("0");
    },
  );

  test.skipIf(!!skip)(
    "cifs_verbose and nfs_verbose side by side (one collection): each restores its own knobs, neither the other's",
    async () => {
      const p = setup();
      const c = cifsBeside(p);
      const cifs = verboseWindow(ctx(0.3), c);
      const nfs = nfsVerboseWindow(ctx(0.8), p);
      await Bun.sleep(100);
      expect(read(c.fyi)).toBe("7");
      expect(read(p.nfsDebug)).toBe(RAISED_NFS);
      expect(existsSync(c.stateFile) && existsSync(p.stateFile)).toBe(true);
      const rc = text((await cifs).data);
      // cifs_verbose ended: its knob back, its record gone; nfs_verbose's untouched.
      expect(rc).toContain("cifsFYI back to 0");
      expect(rc).not.toContain("nfs_debug");
      expect(read(c.fyi)).toBe("0");
      expect(existsSync(c.stateFile)).toBe(false);
      expect(read(p.nfsDebug)).toBe(RAISED_NFS);
      expect(read(p.rpcDebug)).toBe(RAISED_RPC);
      expect(JSON.parse(read(p.stateFile))).toMatchObject({ nfs_debug: 0, rpc_debug: 0 });
      const rn = text((await nfs).data);
      expect(rn).not.toContain("joined");
      expect(rn).toContain("nfs_debug back to 0x0000; rpc_debug back to 0x0000");
      expect(read(p.nfsDebug)).toBe("0");
      expect(read(c.fyi)).toBe("0");
      expect(existsSync(p.stateFile)).toBe(false);
    },
  );

  test.skipIf(!!skip)("the nfs window ending first leaves the cifs window raised", async () => {
    const p = setup();
    const c = cifsBeside(p);
    const nfs = nfsVerboseWindow(ctx(0.2), p);
    const cifs = verboseWindow(ctx(0.6), c);
    await nfs;
    expect(read(p.nfsDebug)).toBe("0");
    expect(read(c.fyi)).toBe("7");
    expect(existsSync(c.stateFile)).toBe(true);
    await cifs;
    expect(read(c.fyi)).toBe("0");
  });
});

describe("nfs_verbose: a crash or kill during the window", () => {
  test.skipIf(!!skip)(
    "restoreVerboseLeftovers at the next start undoes cifs_verbose's and nfs_verbose's, and not while the owner lives",
    async () => {
      const p = setup("0x0010\n");
      const c = cifsBeside(p);
      const stateDir = join(p.dir, "state");
      const script = join(p.dir, "child.ts");
      // A daemon with both windows open, as one collection running both actions has them.
      writeFileSync(
        script,
        `import { defaultVerbosePaths, verboseWindow } from ${JSON.stringify(join(ROOT, "src/actions/builtin/cifs_verbose.ts"))};
import { defaultNfsVerbosePaths, nfsVerboseWindow } from ${JSON.stringify(join(ROOT, "src/actions/builtin/nfs_verbose.ts"))};
const [fyi, nfsDebug, rpcDebug] = process.argv.slice(2);
const ctx = { detectedAtMs: Date.now(), collection: { verbose_sec: 60, action_timeout_sec: 120 }, signal: new AbortController().signal, capBytes: 1 << 20 } as never;
await Promise.all([
  verboseWindow(ctx, { ...defaultVerbosePaths(), fyi, control: undefined }),
  nfsVerboseWindow(ctx, { ...defaultNfsVerbosePaths(), nfsDebug, rpcDebug }),
]);
`,
      );
      const child = Bun.spawn([process.execPath, script, c.fyi, p.nfsDebug, p.rpcDebug], {
        env: { ...process.env, AOD_STATE_DIR: stateDir },
        stdout: "inherit",
        stderr: "inherit",
      });
      const saved = process.env.AOD_STATE_DIR;
      process.env.AOD_STATE_DIR = stateDir;
      try {
        for (let i = 0; i < 200 && (read(c.fyi) !== "7" || read(p.rpcDebug) !== RAISED_RPC); i++) await Bun.sleep(25);
        expect(read(p.nfsDebug)).toBe(String(0x4730));
        expect(read(p.rpcDebug)).toBe(RAISED_RPC);
        const cifsPaths = { ...defaultVerbosePaths(), fyi: c.fyi, control: undefined };
        const nfsPaths = { ...defaultNfsVerbosePaths(), nfsDebug: p.nfsDebug, rpcDebug: p.rpcDebug };
        expect(nfsPaths.stateFile).toBe(join(stateDir, NFS_STATE_FILE_NAME));
        // The owner is alive and holds both locks: left alone.
        const alive = restoreVerboseLeftovers(cifsPaths, nfsPaths)!.split("\n");
        expect(alive).toHaveLength(2);
        expect(alive[0]).toContain("a cifs_verbose window of another aod process is open");
        expect(alive[1]).toContain("a nfs_verbose window of another aod process is open");
        expect(read(p.nfsDebug)).toBe(String(0x4730));
        child.kill("SIGKILL");
        await child.exited;
        expect(read(p.rpcDebug)).toBe(RAISED_RPC); // nobody restored: the kill left it raised
        const msg = restoreVerboseLeftovers(cifsPaths, nfsPaths)!.split("\n");
        expect(msg).toHaveLength(2);
        expect(msg[0]).toContain(`cifs_verbose window of pid ${child.pid}`);
        expect(msg[0]).toContain("restored: cifsFYI back to 0");
        expect(msg[1]).toContain(`nfs_verbose window of pid ${child.pid}`);
        expect(msg[1]).toContain("restored: nfs_debug back to 0x0010; rpc_debug back to 0x0000");
        expect(read(p.nfsDebug)).toBe(String(0x10));
        expect(read(p.rpcDebug)).toBe("0");
        expect(read(c.fyi)).toBe("0");
        expect(existsSync(nfsPaths.stateFile) || existsSync(cifsPaths.stateFile)).toBe(false);
        expect(restoreVerboseLeftovers(cifsPaths, nfsPaths)).toBeUndefined(); // once
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
        if (saved === undefined) delete process.env.AOD_STATE_DIR;
        else process.env.AOD_STATE_DIR = saved;
      }
    },
  );

  test("a record that is not aod's is removed, not acted on; one others may write is ignored", () => {
    const p = setup("0x0000\n");
    const c = cifsBeside(p);
    mkdirSync(join(p.dir, "state"), { mode: 0o700 });
    writeFileSync(
      p.stateFile,
      JSON.stringify({ version: 1, pid: 1, raised_at: "t", nfs_debug: "1\n2", rpc_debug: 0 }),
      {
        mode: 0o600,
      },
    );
    expect(restoreVerboseLeftovers(c, p)).toContain("not a record aod wrote; nothing restored");
    expect(existsSync(p.stateFile)).toBe(false);
    expect(read(p.nfsDebug)).toBe("0x0000\n");
    writeFileSync(p.stateFile, JSON.stringify({ version: 1, pid: 1, raised_at: "t", nfs_debug: 5, rpc_debug: null }));
    require("node:fs").chmodSync(p.stateFile, 0o666);
    expect(restoreVerboseLeftovers(c, p)).toContain("writable by others");
    expect(read(p.nfsDebug)).toBe("0x0000\n");
  });

  test("a record nobody restored is restored before the next window records its own", () => {
    const p = setup(`${0x4720}\n`, `${0xa1}\n`); // left raised by a killed run
    mkdirSync(join(p.dir, "state"), { mode: 0o700 });
    writeFileSync(p.stateFile, JSON.stringify({ version: 1, pid: 1, raised_at: "t", nfs_debug: 1, rpc_debug: null }), {
      mode: 0o600,
    });
    const got = acquireNfsVerbose(p);
    expect(got).toMatchObject({ joined: false });
    if ("raised" in got)
      expect(got.raised[0]).toBe("restored first, from an earlier window left open: nfs_debug back to 0x0001");
    // The real previous value, not the leftover raised one.
    expect(JSON.parse(read(p.stateFile))).toMatchObject({ nfs_debug: 1, rpc_debug: 0xa1 });
    releaseNfsVerbose();
    expect(read(p.nfsDebug)).toBe("1");
    expect(read(p.rpcDebug)).toBe(String(0xa1));
  });
});
