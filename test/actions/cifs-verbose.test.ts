import { afterEach, describe, expect, test } from "bun:test";
import { accessSync, constants, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  acquireVerbose,
  defaultVerbosePaths,
  dynamicDebugBefore,
  parseControl,
  parseSaved,
  releaseVerbose,
  restoreQueries,
  restoreVerboseLeftovers,
  STATE_FILE_NAME,
  type VerbosePaths,
  verboseWindow,
} from "../../src/actions/builtin/cifs_verbose";
import type { ActionContext } from "../../src/actions/context";
import { parseConfigText } from "../../src/registry";
import { ROOT, skipReason, tempDir } from "../helpers";

const text = (d: Uint8Array) => new TextDecoder().decode(d);

// The dynamic debug control file as the kernel prints it: cifs callsites (one printing already,
// two on one line), another module's, and the header line.
const CONTROL = `# filename:lineno [module]function flags format
fs/smb/client/connect.c:100 [cifs]cifs_reconnect =_ "Reconnecting tcp session\\012"
fs/smb/client/connect.c:200 [cifs]cifs_get_tcp_session =p "connect to %s\\012"
fs/smb/client/smb2pdu.c:300 [cifs]SMB2_read =_ "read %d\\012"
fs/smb/client/smb2pdu.c:300 [cifs]SMB2_read =_ "read done %d\\012"
fs/smb/client/transport.c:50 [cifs]wait_for_response =pmf "wait\\012"
net/ipv4/tcp.c:10 [tcp]tcp_x =_ "x"
`;
const ALL_OFF = CONTROL.replace(/ =p /, " =_ ").replace(/ =pmf /, " =mf ");

/** Temp files standing in for cifsFYI and the control file; the state dir as AOD_STATE_DIR gives it. */
function setup(control = CONTROL, fyi = "0\n"): VerbosePaths & { dir: string } {
  const dir = tempDir("aod-verbose-");
  writeFileSync(join(dir, "cifsFYI"), fyi);
  writeFileSync(join(dir, "control"), control);
  return {
    dir,
    fyi: join(dir, "cifsFYI"),
    control: join(dir, "control"),
    stateFile: join(dir, "state", STATE_FILE_NAME),
    kmsg: "/dev/kmsg",
  };
}

function ctx(verbose_sec: number, signal = new AbortController().signal, extra: Partial<ActionContext> = {}) {
  const collection = { ...parseConfigText("", "t").collection, verbose_sec };
  return { detectedAtMs: Date.now(), collection, signal, capBytes: 1 << 20, ...extra } as ActionContext;
}

const read = (p: string) => readFileSync(p, "utf8");
/** What was appended to the control stand-in after its fixture text. */
const written = (p: VerbosePaths, base = CONTROL) => read(p.control!).slice(base.length);

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
  // A test that failed mid-window must not leave this process's window open for the next one.
  for (let i = 0; i < 4; i++) releaseVerbose();
});

describe("cifs_verbose: parsing and what restoring writes", () => {
  test("control file: the cifs callsites with their flags", () => {
    const c = parseControl(CONTROL);
    expect(c.map((x) => [x.file, x.line, x.func, x.flags])).toEqual([
      ["fs/smb/client/connect.c", 100, "cifs_reconnect", "_"],
      ["fs/smb/client/connect.c", 200, "cifs_get_tcp_session", "p"],
      ["fs/smb/client/smb2pdu.c", 300, "SMB2_read", "_"],
      ["fs/smb/client/smb2pdu.c", 300, "SMB2_read", "_"],
      ["fs/smb/client/transport.c", 50, "wait_for_response", "pmf"],
    ]);
  });

  test("none printing before: module cifs -p; some: -p on exactly the file:line places that did not print", () => {
    expect(restoreQueries(dynamicDebugBefore(parseControl(ALL_OFF)))).toEqual(["module cifs -p"]);
    expect(restoreQueries(dynamicDebugBefore(parseControl(CONTROL)))).toEqual([
      "file fs/smb/client/connect.c line 100 -p",
      "file fs/smb/client/smb2pdu.c line 300 -p",
    ]);
  });

  test("a record read back is checked before anything of it reaches the kernel", () => {
    const ok = {
      version: 1,
      pid: 1,
      raised_at: "t",
      cifsFYI: "0",
      dynamic_debug: { all_off: false, off: [["a/b.c", 3]] },
    };
    expect(parseSaved(JSON.stringify(ok))).toEqual(ok as never);
    expect(parseSaved(JSON.stringify({ ...ok, cifsFYI: "7\nmodule x +p" }))).toBeUndefined();
    expect(
      parseSaved(JSON.stringify({ ...ok, dynamic_debug: { all_off: false, off: [["a.c; module * +p", 3]] } })),
    ).toBeUndefined();
    expect(
      parseSaved(JSON.stringify({ ...ok, dynamic_debug: { all_off: false, off: [["a.c", -1]] } })),
    ).toBeUndefined();
    expect(parseSaved("{")).toBeUndefined();
    expect(parseSaved("")).toBeUndefined();
  });

  test("the state path follows AOD_STATE_DIR, else /var/lib/aod", () => {
    const saved = process.env.AOD_STATE_DIR;
    try {
      process.env.AOD_STATE_DIR = "/tmp/x";
      expect(defaultVerbosePaths().stateFile).toBe("/tmp/x/verbose-state.json");
      delete process.env.AOD_STATE_DIR;
      expect(defaultVerbosePaths().stateFile).toBe("/var/lib/aod/verbose-state.json");
      expect(defaultVerbosePaths().fyi).toBe("/proc/fs/cifs/cifsFYI");
    } finally {
      if (saved === undefined) delete process.env.AOD_STATE_DIR;
      else process.env.AOD_STATE_DIR = saved;
    }
  });
});

describe("cifs_verbose: the window", () => {
  test.skipIf(!!skip)("records first, raises, collects the window's kernel log, restores exactly", async () => {
    const p = setup();
    const marker = `aod-test cifs_verbose marker ${process.pid}-${Date.now()}`;
    writeFileSync("/dev/kmsg", `<6>${marker} before\n`);
    const run = verboseWindow(ctx(0.6), p);
    await Bun.sleep(150);
    // Raised, and the previous values on disk in a 0600 file in a 0700 dir.
    expect(read(p.fyi)).toBe("7");
    expect(written(p)).toBe("module cifs +p\n");
    expect(statSync(p.stateFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(p.dir, "state")).mode & 0o777).toBe(0o700);
    expect(JSON.parse(read(p.stateFile))).toMatchObject({
      version: 1,
      pid: process.pid,
      cifsFYI: "0",
      dynamic_debug: {
        all_off: false,
        off: [
          ["fs/smb/client/connect.c", 100],
          ["fs/smb/client/smb2pdu.c", 300],
        ],
      },
    });
    writeFileSync("/dev/kmsg", `<6>${marker}\n`);
    const r = await run;
    expect(read(p.fyi)).toBe("0");
    expect(written(p)).toBe(
      "module cifs +p\nfile fs/smb/client/connect.c line 100 -p\nfile fs/smb/client/smb2pdu.c line 300 -p\n",
    );
    expect(existsSync(p.stateFile)).toBe(false);
    const out = text(r.data);
    expect(r.exitStatus).toBeUndefined();
    expect(out).toContain("# cifs_verbose: the cifs client's verbose logging for 0.6 s after the anomaly");
    expect(out).toContain("cifsFYI 0 → 7; dynamic debug: module cifs +p (5 callsites, 2 printing before)");
    expect(out).toContain(
      "cifsFYI back to 0; dynamic debug: -p on the 2 cifs file:line places that did not print before (the others stay +p)",
    );
    expect(out).toMatch(new RegExp(`\\n\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${marker}\\n`));
    // Only the window: the line written before it is not there.
    expect(out).not.toContain(`${marker} before`);
    expect(out).toMatch(/# kernel log of the window \(\/dev\/kmsg\): [1-9]\d* lines/);
  });

  test.skipIf(!!skip)(
    "none printing before: restored with module cifs -p; a previous cifsFYI other than 0 comes back",
    async () => {
      const p = setup(ALL_OFF, "1\n");
      const r = await verboseWindow(ctx(0.2), p);
      expect(read(p.fyi)).toBe("1");
      expect(written(p, ALL_OFF)).toBe("module cifs +p\nmodule cifs -p\n");
      expect(text(r.data)).toContain(
        "cifsFYI back to 1; dynamic debug: module cifs -p (no cifs callsite printed before)",
      );
    },
  );

  test.skipIf(!!skip)("an abort (deadline, SIGTERM) restores at once", async () => {
    const p = setup();
    const ac = new AbortController();
    const run = verboseWindow(ctx(30, ac.signal), p);
    await Bun.sleep(100);
    expect(read(p.fyi)).toBe("7");
    const t0 = performance.now();
    ac.abort();
    // Restored in the abort itself, before the action's promise settles.
    expect(read(p.fyi)).toBe("0");
    expect(existsSync(p.stateFile)).toBe(false);
    await run;
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  test.skipIf(!!skip)(
    "overlapping windows share one raise: restored when the last ends, to the real previous values",
    async () => {
      const p = setup();
      const first = verboseWindow(ctx(0.3), p);
      await Bun.sleep(50);
      const second = verboseWindow(ctx(0.8), p);
      const a = text((await first).data);
      expect(read(p.fyi)).toBe("7"); // the second window is still open
      expect(a).toContain("still raised for an overlapping anomaly's window");
      const b = text((await second).data);
      expect(b).toContain("(joined the window another anomaly opened)");
      expect(read(p.fyi)).toBe("0");
      expect(written(p)).toBe(
        "module cifs +p\nfile fs/smb/client/connect.c line 100 -p\nfile fs/smb/client/smb2pdu.c line 300 -p\n",
      );
    },
  );

  test.skipIf(!!skip)("the window fits the action's deadline", async () => {
    const p = setup();
    const c = ctx(60);
    c.collection = { ...c.collection, action_timeout_sec: 2.5 };
    const r = text((await verboseWindow(c, p)).data);
    expect(r).toContain("verbose logging for 0.5 s after the anomaly");
    expect(r).toContain("# window cut from verbose_sec 60 s to fit collection.action_timeout_sec 2.5 s\n");
    expect(read(p.fyi)).toBe("0");
  });

  test("cifs not loaded: nothing raised, nothing recorded", async () => {
    const p = setup();
    const missing = { ...p, fyi: join(p.dir, "no-cifsFYI"), control: undefined };
    const r = await verboseWindow(ctx(0.1), missing);
    expect(r.note).toContain("the cifs module is not loaded");
    expect(existsSync(p.stateFile)).toBe(false);
  });

  test("the previous values cannot be recorded: nothing is raised", async () => {
    const p = setup();
    writeFileSync(join(p.dir, "state"), "a file where the state dir should be");
    const got = acquireVerbose(p);
    expect(got).toEqual({ error: expect.stringContaining("cannot record the previous settings") });
    expect(read(p.fyi)).toBe("0\n");
    expect(written(p)).toBe("");
  });

  test("nothing could be raised (cifsFYI read-only, no dynamic debug): the record goes, the reason is given", async () => {
    const p = setup();
    const ro = { ...p, fyi: "/proc/version", control: undefined }; // readable, not writable; not a digit
    expect(acquireVerbose(ro)).toEqual({ error: expect.stringContaining("nothing could be raised") });
    expect(existsSync(p.stateFile)).toBe(false);
  });
});

describe("cifs_verbose: a crash or kill during the window", () => {
  test.skipIf(!!skip)(
    "is undone by restoreVerboseLeftovers at the next start (AOD_STATE_DIR), and not while the owner lives",
    async () => {
      const p = setup();
      const stateDir = join(p.dir, "state");
      const script = join(p.dir, "child.ts");
      writeFileSync(
        script,
        `import { defaultVerbosePaths, verboseWindow } from ${JSON.stringify(join(ROOT, "src/actions/builtin/cifs_verbose.ts"))};
const paths = { ...defaultVerbosePaths(), fyi: process.argv[2], control: process.argv[3] };
const collection = { verbose_sec: 60, action_timeout_sec: 120 };
await verboseWindow({ detectedAtMs: Date.now(), collection, signal: new AbortController().signal, capBytes: 1 << 20 } as never, paths);
`,
      );
      const child = Bun.spawn([process.execPath, script, p.fyi, p.control!], {
        env: { ...process.env, AOD_STATE_DIR: stateDir },
        stdout: "inherit",
        stderr: "inherit",
      });
      const saved = process.env.AOD_STATE_DIR;
      process.env.AOD_STATE_DIR = stateDir;
      try {
        for (let i = 0; i < 200 && read(p.fyi) !== "7"; i++) await Bun.sleep(25);
        expect(read(p.fyi)).toBe("7");
        const paths = { ...defaultVerbosePaths(), fyi: p.fyi, control: p.control };
        expect(paths.stateFile).toBe(join(stateDir, STATE_FILE_NAME));
        // The owner is alive and holds the lock: left alone.
        expect(restoreVerboseLeftovers(paths)).toContain("is locked): left alone");
        expect(read(p.fyi)).toBe("7");
        child.kill("SIGKILL");
        await child.exited;
        expect(read(p.fyi)).toBe("7"); // nobody restored: the kill left it raised
        const msg = restoreVerboseLeftovers(paths);
        expect(msg).toContain(`cifs_verbose window of pid ${child.pid}`);
        expect(msg).toContain(
          "restored: cifsFYI back to 0; dynamic debug: -p on the 2 cifs file:line places that did not print before",
        );
        expect(read(p.fyi)).toBe("0");
        expect(written(p)).toBe(
          "module cifs +p\nfile fs/smb/client/connect.c line 100 -p\nfile fs/smb/client/smb2pdu.c line 300 -p\n",
        );
        expect(existsSync(paths.stateFile)).toBe(false);
        expect(restoreVerboseLeftovers(paths)).toBeUndefined(); // once
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
        if (saved === undefined) delete process.env.AOD_STATE_DIR;
        else process.env.AOD_STATE_DIR = saved;
      }
    },
  );

  test("a record that is not aod's is removed, not acted on; one others may write is ignored", () => {
    const p = setup();
    const dir = join(p.dir, "state");
    require("node:fs").mkdirSync(dir, { mode: 0o700 });
    writeFileSync(
      p.stateFile,
      JSON.stringify({ version: 1, pid: 1, raised_at: "t", cifsFYI: "7; x", dynamic_debug: null }),
      {
        mode: 0o600,
      },
    );
    expect(restoreVerboseLeftovers(p)).toContain("not a record aod wrote; nothing restored");
    expect(existsSync(p.stateFile)).toBe(false);
    expect(read(p.fyi)).toBe("0\n");
    writeFileSync(p.stateFile, "", { mode: 0o600 });
    expect(restoreVerboseLeftovers(p)).toContain("removed an empty");
    writeFileSync(
      p.stateFile,
      JSON.stringify({ version: 1, pid: 1, raised_at: "t", cifsFYI: "3", dynamic_debug: null }),
    );
    require("node:fs").chmodSync(p.stateFile, 0o666);
    expect(restoreVerboseLeftovers(p)).toContain("writable by others");
    expect(read(p.fyi)).toBe("0\n");
  });

  test("a record nobody restored is restored before the next window records its own", async () => {
    const p = setup("", "7\n"); // left raised by a killed run: cifsFYI 7
    require("node:fs").mkdirSync(join(p.dir, "state"), { mode: 0o700 });
    writeFileSync(
      p.stateFile,
      JSON.stringify({ version: 1, pid: 1, raised_at: "t", cifsFYI: "2", dynamic_debug: null }),
      {
        mode: 0o600,
      },
    );
    const got = acquireVerbose({ ...p, control: undefined });
    expect(got).toMatchObject({ joined: false });
    expect(JSON.parse(read(p.stateFile)).cifsFYI).toBe("2"); // the real previous value, not the leftover 7
    releaseVerbose();
    expect(read(p.fyi)).toBe("2");
  });
});
