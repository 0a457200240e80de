// The doctor's checks, as data: each says what it looks at and whether aod run
// can work without it (`required`). Order is the order printed.
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { actionBinaries } from "../actions/builtin";
import type { Config } from "../config/validate";
import { freeBytes, kernelRelease } from "../host/kernel";
import { cifsLoaded, moduleLoaded } from "../host/modules";
import { smb1Warnings } from "../host/mounts";
import { RPC_CLNT_DIR } from "../host/nfs-clients";
import { nfsMounts } from "../host/nfs-mounts";
import { ensureTracefs, tracefsRoot } from "../host/tracefs";
import { findBinary } from "../host/which";
import { glibcVersion } from "../native/libc";
import { errorCode, errorMessage } from "../util/errors";

export type Status = "ok" | "warn" | "fail" | "info";
export interface CheckResult {
  name: string;
  status: Status;
  detail: string;
}
export interface Check {
  name: string;
  /** false: a failure is reported as a warning, aod run still works. */
  required: boolean;
  run(ctx: {
    config: Config;
  }): { ok: boolean; detail: string; info?: boolean } | Promise<{ ok: boolean; detail: string; info?: boolean }>;
}

/** One row per outside binary a built-in action uses (its spec's `binaries`). */
export const binaryChecks = (): Check[] =>
  actionBinaries().map(
    ({ name, why }): Check => ({
      name,
      required: false,
      run: () => {
        const p = findBinary(name);
        return p ? { ok: true, detail: p } : { ok: false, detail: `not found: ${why}` };
      },
    }),
  );

// Probed once per `aod check` (it reads BTF and kallsyms). Imported lazily: it
// needs libbpf, and a library that fails to load must be a FAIL line, not a crash.
type Plan = ReturnType<typeof import("../tools/attach-plan").describeAttachPlan>;
type Protocol = import("../tools/spec").Protocol;
const plans = new Map<string, unknown>();
const planOf = (p: Protocol): unknown => {
  if (!plans.has(p.name)) plans.set(p.name, p.plan());
  return plans.get(p.name);
};
const attachPlan = async () => planOf((await import("../tools/attach-plan")).smbProtocol) as Plan;

/** The rows of a protocol's event tools that describe themselves, under its plan. */
async function toolChecks(proto: string): Promise<Check[]> {
  const { TOOLS, PROTOCOLS } = await import("../tools/registry");
  return TOOLS.flatMap((t): Check[] => {
    const c = t.check;
    const protocol = PROTOCOLS.find((p) => p.name === t.protocol);
    if (!c || !protocol || protocol.name !== proto) return [];
    return [
      {
        name: `  ${c.name}`,
        required: false,
        run: async () => {
          const r = c.run(await planOf(protocol));
          return r.ok || !protocol.loaded()
            ? { ok: true, info: !r.ok, detail: r.detail }
            : { ok: false, detail: r.detail };
        },
      },
    ];
  });
}

/** The NFS rows: the module, each tool's tracepoints, how events name mounts, and the NFS mounts. */
function nfsChecks(): (Check | Expand)[] {
  const nfsLoaded = () => moduleLoaded("nfs");
  return [
    {
      name: "nfs module",
      required: false,
      run: () =>
        nfsLoaded()
          ? {
              ok: true,
              detail: `loaded${moduleLoaded("nfsv4") ? " (nfsv4 too)" : " (nfsv4 not yet: its errors attach when it loads)"}`,
            }
          : {
              ok: true,
              info: true,
              detail: "not loaded yet: aod attaches when it loads (the first NFS mount loads it)",
            },
    },
    { expand: () => toolChecks("nfs") },
    {
      // Events carry the RPC client, not the mount (src/host/nfs-clients.ts).
      name: "  mount names",
      required: false,
      run: () =>
        existsSync(RPC_CLNT_DIR)
          ? {
              ok: true,
              detail: `RPC client → server from ${RPC_CLNT_DIR}; the export is named when one mount of that server and version is left, else the candidates are listed`,
            }
          : {
              ok: !nfsLoaded(),
              info: true,
              detail: `no ${RPC_CLNT_DIR} (debugfs not mounted, or sunrpc not loaded): events list every mount of their NFS version`,
            },
    },
    {
      name: "NFS mounts",
      required: false,
      run: () => {
        const mounts = nfsMounts(readFileSync("/proc/self/mountinfo", "utf8"));
        if (!mounts.length) return { ok: true, info: true, detail: "none" };
        const list = mounts.map((m) => `${m.mount.source} (v${m.options.get("vers") ?? "?"}) on ${m.mount.mountpoint}`);
        return { ok: true, detail: `${mounts.length}: ${list.slice(0, 8).join(", ")}${list.length > 8 ? ", …" : ""}` };
      },
    },
  ];
}

// Native modules load lazily: `aod check` must still report what it can when
// an embedded library fails to load.
const libbpf = () => import("../native/libbpf");

/** A placeholder in CHECKS for rows known only once the tools' table is loaded. */
interface Expand {
  expand(): Promise<Check[]>;
}

export const CHECKS: (Check | Expand)[] = [
  {
    name: "root",
    required: true,
    run: () =>
      process.geteuid?.() === 0
        ? { ok: true, detail: "running as root" }
        : { ok: false, detail: `running as uid ${process.geteuid?.()}: loading BPF needs root (sudo aod ...)` },
  },
  { name: "kernel", required: false, run: () => ({ ok: true, info: true, detail: kernelRelease() }) },
  {
    // aod's floor: Bun's runtime and the embedded libraries need GLIBC_2.17 (audited by test/glibc).
    name: "glibc",
    required: true,
    run: () => {
      const v = glibcVersion();
      const [maj = 0, min = 0] = v.split(".").map(Number);
      return maj > 2 || (maj === 2 && min >= 17)
        ? { ok: true, info: true, detail: `${v} (aod needs ≥ 2.17)` }
        : { ok: false, detail: `${v}: aod needs glibc ≥ 2.17` };
    },
  },
  {
    name: "libbpf (embedded)",
    required: true,
    run: async () => ({ ok: true, detail: (await libbpf()).libbpfVersion() }),
  },
  {
    name: "libzstd (embedded)",
    required: true,
    run: async () => ({ ok: true, detail: (await import("../native/zstd")).zstdVersion() }),
  },
  {
    name: "BPF",
    required: true,
    run: async () => {
      const l = await libbpf();
      const r = l.probeProgType(l.BPF_PROG_TYPE_TRACEPOINT);
      return r === 1
        ? { ok: true, detail: "tracepoint programs load" }
        : { ok: false, detail: `cannot load BPF programs (probe returned ${r}); needs root and CONFIG_BPF_SYSCALL` };
    },
  },
  {
    name: "BPF ring buffer",
    required: true,
    run: async () => {
      const l = await libbpf();
      return l.probeMapType(l.BPF_MAP_TYPE_RINGBUF) === 1
        ? { ok: true, detail: "BPF_MAP_TYPE_RINGBUF available" }
        : { ok: false, detail: "no BPF ring buffer (kernel < 5.8 without a backport): aod cannot receive events" };
    },
  },
  {
    // Idle costs no wakeup only while a thread blocks on the ring; the Worker fallback costs RSS.
    name: "ring waiter",
    required: false,
    run: async () => {
      const r = await (await import("../tools/ring-waiter")).probeRingWaiter();
      if (!r.works) return { ok: false, detail: `the ${r.kind} waiter did not report a readable fd within 1 s` };
      return r.kind === "thread"
        ? { ok: true, detail: "native thread (compiled at start by Bun's TinyCC)" }
        : { ok: false, detail: `Worker fallback, ≈ 6–9 MB more RSS (native thread: ${r.why})` };
    },
  },
  {
    name: "kernel BTF",
    required: false,
    run: () =>
      existsSync("/sys/kernel/btf/vmlinux")
        ? { ok: true, detail: "/sys/kernel/btf/vmlinux" }
        : { ok: false, detail: "no /sys/kernel/btf/vmlinux: CO-RE hooks unavailable, tracepoints only" },
  },
  {
    name: "tracefs",
    required: true,
    run: () => {
      const r = ensureTracefs();
      return r.root
        ? { ok: true, detail: r.mountedNow ? `mounted it at ${r.root}` : r.root }
        : { ok: false, detail: `/sys/kernel/tracing: ${r.why}` };
    },
  },
  {
    name: "cifs module",
    required: false,
    run: () =>
      cifsLoaded()
        ? { ok: true, detail: "loaded" }
        : { ok: true, info: true, detail: "not loaded yet: aod attaches when it loads (the first SMB mount loads it)" },
  },
  {
    name: "cifs BTF",
    required: false,
    run: () =>
      existsSync("/sys/kernel/btf/cifs")
        ? { ok: true, detail: "/sys/kernel/btf/cifs" }
        : {
            ok: true,
            info: true,
            detail: cifsLoaded() ? "no module BTF for cifs: tracepoint hooks only" : "appears when cifs loads",
          },
  },
  {
    // Which hooks aod would attach, and why (probed as `aod run` does).
    name: "SMB hooks",
    required: true,
    run: async () => {
      const p = await attachPlan();
      if (!p.cifsLoaded)
        return { ok: true, info: true, detail: `decided when cifs loads (preference: ${p.order.join(" → ")})` };
      return { ok: p.hooks !== null, detail: p.reason };
    },
  },
  ...(["fentry", "kprobe", "tracepoint"] as const).map(
    (variant): Check => ({
      name: `  ${variant}`,
      required: false,
      run: async () => {
        const c = (await attachPlan()).available.find((a) => a.name === variant)!;
        return { ok: true, info: !c.ok, detail: `${c.ok ? "available" : "unavailable"}: ${c.why}` };
      },
    }),
  ),
  // One row per event tool that has one (its spec's `check`), e.g. errors, connection.
  { expand: () => toolChecks("smb") },
  ...nfsChecks(),
  {
    // Whether bundles will carry kernel_trace.log, and what the recorder costs.
    name: "flight recorder",
    required: false,
    run: ({ config }) => {
      const fr = config.flight_recorder;
      if (!fr.enabled) return { ok: true, info: true, detail: "off (flight_recorder.enabled: false)" };
      const root = tracefsRoot(false);
      if (!root) return { ok: false, detail: "no tracefs: bundles will have no kernel_trace.log" };
      if (!existsSync(`${root}/instances`)) return { ok: false, detail: "tracefs has no instances/ (kernel too old)" };
      const cpus = readdirSync(`${root}/per_cpu`).length;
      const snapshot = existsSync(`${root}/snapshot`);
      const kb = fr.buffer_kb * cpus * (snapshot ? 2 : 1);
      const instance = existsSync(`${root}/instances/aod`) ? "recording now (instances/aod)" : "not running";
      return {
        ok: true,
        detail: `${fr.buffer_kb} KiB per CPU × ${cpus} CPUs${snapshot ? " × 2 (snapshot buffer)" : ""} = ${(kb / 1024).toFixed(1)} MiB; frozen by ${snapshot ? "snapshot swap" : "pausing it while read (no snapshot buffer in this kernel)"}; ${instance}`,
      };
    },
  },
  {
    name: "SMB1 mounts",
    required: false,
    run: () => {
      const w = smb1Warnings();
      return w.length ? { ok: false, detail: w.join("; ") } : { ok: true, info: true, detail: "none" };
    },
  },
  ...binaryChecks(),
  {
    name: "output dir",
    required: true,
    run: ({ config }) => {
      const dir = config.aod_output_dir;
      try {
        if (!existsSync(dir)) {
          if (process.geteuid?.() === 0)
            return { ok: true, detail: `${dir} does not exist yet; aod run creates it (0700)` };
          return { ok: false, detail: `${dir} does not exist and only root can create it` };
        }
        if (!statSync(dir).isDirectory()) return { ok: false, detail: `${dir} is not a directory` };
        accessSync(dir, constants.W_OK);
        const free = freeBytes(dir);
        return {
          ok: true,
          detail: `${dir} writable, ${free === undefined ? "?" : (free / 2 ** 30).toFixed(1)} GiB free`,
        };
      } catch (e) {
        return { ok: false, detail: `${dir}: ${errorCode(e) === "EACCES" ? "not writable" : errorMessage(e)}` };
      }
    },
  },
];

export async function runChecks(config: Config, extra: Check[] = []): Promise<{ ok: boolean; results: CheckResult[] }> {
  const results: CheckResult[] = [];
  let ok = true;
  const checks: Check[] = [];
  for (const c of [...CHECKS, ...extra]) {
    if (!("expand" in c)) checks.push(c);
    else
      try {
        checks.push(...(await c.expand()));
      } catch (e) {
        const detail = errorMessage(e).split("\n")[0]!;
        checks.push({ name: "  tools", required: true, run: () => ({ ok: false, detail }) });
      }
  }
  for (const c of checks) {
    let r: { ok: boolean; detail: string; info?: boolean };
    try {
      r = await c.run({ config });
    } catch (e) {
      r = { ok: false, detail: errorMessage(e).split("\n")[0] };
    }
    const status: Status = r.ok ? (r.info ? "info" : "ok") : c.required ? "fail" : "warn";
    if (status === "fail") ok = false;
    results.push({ name: c.name, status, detail: r.detail });
  }
  return { ok, results };
}
