import { describe, expect, test } from "bun:test";
import { actionBinaries, actionFileName, BUILTIN_ACTION_NAMES, BUILTIN_ACTIONS } from "../../src/actions/builtin";
import { since } from "../../src/actions/builtin/journalctl";
import type { ActionContext } from "../../src/actions/context";
import { binaryChecks, CHECKS } from "../../src/check/checks";
import type { CollectionConfig } from "../../src/config/schema";
import { findBinary } from "../../src/host/which";

describe("built-in action specs", () => {
  test("each has a unique name and a unique bundle file", () => {
    const names = BUILTIN_ACTIONS.map((a) => a.name);
    const files = BUILTIN_ACTIONS.map((a) => a.file);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(files).size).toBe(files.length);
    expect(BUILTIN_ACTION_NAMES).toEqual(names);
    for (const a of BUILTIN_ACTIONS) {
      expect(a.name).toMatch(/^[a-z][a-z0-9_-]*$/);
      expect(a.what.length).toBeGreaterThan(0);
      expect(typeof a.run).toBe("function");
    }
  });

  test("names and bundle file names stay those existing bundles use", () => {
    expect(Object.fromEntries(BUILTIN_ACTIONS.map((a) => [a.name, a.file]))).toEqual({
      dmesg: "dmesg.log",
      journalctl: "journalctl.log",
      debugdata: "debug_data.log",
      stats: "cifsstats.log",
      mounts: "mounts.log",
      smbinfo: "smbinfo.log",
      syslogs: "syslogs.log",
      hung_tasks: "hung_tasks.log",
      open_files: "open_files.log",
      kerberos: "kerberos.log",
      cifs_verbose: "cifs_verbose.log",
      nfs_mounts: "nfs_mounts.log",
      nfs_mountstats: "nfs_mountstats.log",
      nfsstat: "nfsstat.log",
      nfs_verbose: "nfs_verbose.log",
    });
    expect(actionFileName("debugdata")).toBe("debug_data.log");
    expect(actionFileName("my-custom")).toBe("my-custom.log");
  });

  test("aod check's binary rows come from the specs' binaries", () => {
    const declared = actionBinaries();
    expect(declared.map((b) => b.name)).toEqual(["journalctl", "dmesg", "smbinfo", "klist"]);
    // Each binary once, with the reason of the first spec that lists it.
    const all = BUILTIN_ACTIONS.flatMap((a) => a.binaries ?? []);
    for (const b of declared) expect(all.find((x) => x.name === b.name)).toBe(b);
    const rows = binaryChecks();
    expect(rows.map((c) => c.name)).toEqual(declared.map((b) => b.name));
    expect(rows.every((c) => !c.required)).toBe(true);
    const inChecks = CHECKS.map((c) => ("name" in c ? c.name : "")).filter((n) => declared.some((b) => b.name === n));
    expect(inChecks).toEqual(declared.map((b) => b.name));
  });

  test("a missing binary's row says why it matters", async () => {
    const saved = process.env.PATH;
    const rows = binaryChecks();
    for (const [i, b] of actionBinaries().entries()) {
      const r = await rows[i]!.run({ config: undefined as never });
      if (findBinary(b.name)) expect(r).toEqual({ ok: true, detail: findBinary(b.name)! });
      else expect(r).toEqual({ ok: false, detail: `not found: ${b.why}` });
    }
    expect(process.env.PATH).toBe(saved);
  });

  test("an action reads its settings from ctx.collection", () => {
    const ctx = { detectedAtMs: 1_000_000, collection: { lookback_sec: 300 } as CollectionConfig } as ActionContext;
    expect(since(ctx)).toBe("@700");
  });
});

describe("findBinary", () => {
  test("finds a binary in the system directories even with an empty PATH", () => {
    const saved = process.env.PATH;
    try {
      process.env.PATH = "";
      expect(findBinary("sh")).toMatch(/^\/(usr\/)?bin\/sh$/);
    } finally {
      process.env.PATH = saved;
    }
  });
  test("null for a binary that does not exist", () => {
    expect(findBinary("no-such-binary-aod")).toBeNull();
  });
});
