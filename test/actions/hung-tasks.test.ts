import { describe, expect, test } from "bun:test";
import { closeSync, constants, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatTasks, isShareFrame, MAX_TASKS, orderTasks, scanTasks } from "../../src/actions/builtin/hung_tasks";
import { runActions } from "../../src/actions/run";
import { parseStat } from "../../src/host/procfs";
import { parseConfigText } from "../../src/registry";
import { isRoot, skipReason, tempDir } from "../helpers";

const text = (d: Uint8Array) => new TextDecoder().decode(d);
const live = () => new AbortController().signal;

const CIFS_STACK = [
  "[<0>] wait_for_response+0x119/0x1b0 [cifs]",
  "[<0>] compound_send_recv+0x5c1/0xc70 [cifs]",
  "[<0>] SMB2_read+0x1a0/0x300 [cifs]",
  "[<0>] cifs_readv_from_socket+0x10/0x20 [cifs]",
  "[<0>] vfs_read+0x9f/0x190",
  "[<0>] ksys_read+0x6b/0xf0",
  "[<0>] do_syscall_64+0x5c/0x90",
].join("\n");
const NFS_STACK = [
  "[<0>] rpc_wait_bit_killable+0x1e/0xa0 [sunrpc]",
  "[<0>] __rpc_execute+0x113/0x3e0 [sunrpc]",
  "[<0>] nfs4_call_sync_sequence+0x77/0xb0 [nfsv4]",
  "[<0>] do_syscall_64+0x5c/0x90",
].join("\n");
const PLAIN_S = "[<0>] do_epoll_wait+0x5a1/0x6a0\n[<0>] __x64_sys_epoll_wait+0x6f/0x110\n";
const PLAIN_D = "[<0>] wait_for_vfork_done+0x2f/0x50\n[<0>] kernel_clone+0x1d0/0x3c0\n";

/** A /proc stand-in: <root>/<pid>/task/<tid>/{stat,wchan,stack} and uptime. */
function fakeProc(
  tasks: {
    pid: number;
    tid?: number;
    comm: string;
    state: string;
    start: number;
    wchan?: string;
    stack?: string;
    kthread?: boolean;
  }[],
) {
  const root = tempDir("aod-proc-");
  writeFileSync(join(root, "uptime"), "1000.50 900.00\n");
  for (const t of tasks) {
    const dir = join(root, String(t.pid), "task", String(t.tid ?? t.pid));
    mkdirSync(dir, { recursive: true });
    const flags = t.kthread ? 0x00200040 : 0x00400000;
    // Fields 3..22 after the comm: state ppid pgrp session tty tpgid flags ... starttime (field 22).
    const rest = [t.state, 1, t.pid, t.pid, 0, -1, flags, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, t.start, 1000, 10];
    writeFileSync(join(dir, "stat"), `${t.pid} (${t.comm}) ${rest.join(" ")}\n`);
    if (t.wchan) writeFileSync(join(dir, "wchan"), t.wchan);
    if (t.stack !== undefined) writeFileSync(join(dir, "stack"), t.stack);
  }
  return root;
}

describe("hung_tasks parsing", () => {
  test("file-share frames: cifs, smb, nfs, sunrpc, netfs modules and built-in function names", () => {
    expect(isShareFrame("[<0>] wait_for_response+0x119/0x1b0 [cifs]")).toBe(true);
    expect(isShareFrame("[<0>] rpc_wait_bit_killable+0x1e/0xa0 [sunrpc]")).toBe(true);
    expect(isShareFrame("[<0>] nfs4_do_open+0x1/0x2 [nfsv4]")).toBe(true);
    expect(isShareFrame("[<0>] netfs_read_folio+0x1/0x2 [netfs]")).toBe(true);
    expect(isShareFrame("[<0>] smb2_reconnect+0x1/0x2")).toBe(true); // cifs built in: no module tag
    expect(isShareFrame("[<0>] cifs_reconnect_tcon+0x1/0x2")).toBe(true);
    expect(isShareFrame("[<0>] do_epoll_wait+0x5a1/0x6a0")).toBe(false);
    expect(isShareFrame("[<0>] i2c_smbus_xfer+0x1/0x2 [i2c_core]")).toBe(false);
    expect(isShareFrame("garbage")).toBe(false);
  });

  test("/proc/<pid>/stat: a comm with spaces and parentheses, kernel threads", () => {
    const s = parseStat("42 (a) (b c) D 1 42 42 0 -1 2097216 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n")!;
    expect(s).toEqual({ comm: "a) (b c", state: "D", ppid: 1, startTicks: 12345, kthread: true });
    expect(parseStat("")).toBeUndefined();
  });
});

describe("hung_tasks on a /proc stand-in", () => {
  const tasks = [
    { pid: 100, comm: "reader", state: "S", start: 50_00, wchan: "wait_for_response", stack: CIFS_STACK },
    { pid: 100, tid: 101, comm: "reader-idle", state: "S", start: 50_00, wchan: "do_epoll_wait", stack: PLAIN_S },
    { pid: 200, comm: "ls", state: "D", start: 90_000, wchan: "rpc_wait_bit_killable", stack: NFS_STACK },
    { pid: 300, comm: "vforker", state: "D", start: 99_950, wchan: "wait_for_vfork_done", stack: PLAIN_D },
    { pid: 400, comm: "busy", state: "R", start: 1, stack: CIFS_STACK },
    { pid: 500, comm: "nostack", state: "S", start: 1 }, // stack unreadable: cannot be checked
    { pid: 600, comm: "cifsd", state: "S", start: 10, wchan: "sk_wait_data", stack: CIFS_STACK, kthread: true },
  ];

  test("D tasks and S tasks with file-share frames, file-share ones first (D before S)", async () => {
    const proc = fakeProc(tasks);
    const scan = await scanTasks(proc, live());
    expect(scan.counts).toEqual({ tasks: 7, shareD: 1, shareS: 2, otherD: 1, sUnchecked: 1 });
    expect(orderTasks(scan).map((t) => [t.pid, t.tid, t.state, t.share])).toEqual([
      [200, 200, "D", true],
      [100, 100, "S", true],
      [600, 600, "S", true],
      [300, 300, "D", false],
    ]);
    const out = text(formatTasks(scan, 1000.5, Date.UTC(2025, 0, 1), 1 << 20).data);
    expect(out).toContain(
      'pid=200 tid=200 comm="ls" state=D wchan=rpc_wait_bit_killable running_sec=100.5 share_frames=yes\n  [<0>] rpc_wait_bit_killable+0x1e/0xa0 [sunrpc]\n',
    );
    expect(out).toContain(
      'pid=100 tid=100 comm="reader" state=S wchan=wait_for_response running_sec=950.5 share_frames=yes',
    );
    expect(out).toContain(
      'pid=600 tid=600 comm="cifsd" state=S wchan=sk_wait_data running_sec=1000.4 share_frames=yes kernel_thread=yes',
    );
    expect(out).toContain(
      'pid=300 tid=300 comm="vforker" state=D wchan=wait_for_vfork_done running_sec=1.0 share_frames=no',
    );
    expect(out).toContain("# 7 tasks scanned: 3 with file-share frames (1 D, 2 S), 1 other in D\n");
    expect(out).toContain("# 1 S-state tasks not checked: kernel stack unreadable (ENOENT)");
    expect(out).not.toContain("reader-idle");
    expect(out).not.toContain("busy");
    expect(out.indexOf("pid=200")).toBeLessThan(out.indexOf("pid=100"));
    expect(out.indexOf("pid=600")).toBeLessThan(out.indexOf("pid=300"));
  });

  test("bounded: at most the limit kept and shown, the rest counted", async () => {
    const many = Array.from({ length: 12 }, (_, i) => ({
      pid: 1000 + i,
      comm: "d",
      state: "D",
      start: 1,
      stack: PLAIN_D,
    }));
    const scan = await scanTasks(fakeProc(many), live(), 5);
    expect(scan.otherD.length).toBe(5);
    expect(scan.counts.otherD).toBe(12);
    expect(orderTasks(scan, 3).map((t) => t.pid)).toEqual([1000, 1001, 1002]);
    const out = text(formatTasks(scan, 10, 0, 1 << 20).data);
    expect(out).toContain("5 shown, 7 left out");
    expect(MAX_TASKS).toBe(200);
  });

  test("the output cap cuts whole tasks and says so", async () => {
    const scan = await scanTasks(fakeProc(tasks), live());
    const r = formatTasks(scan, 1000, 0, 900);
    expect(r.truncated).toBe(true);
    expect(r.data.length).toBeLessThanOrEqual(900);
    expect(r.note).toMatch(/output cap reached after \d of 4 tasks/);
  });

  test("a deadline stops the scan and the output says the list is partial", async () => {
    const ac = new AbortController();
    ac.abort();
    const scan = await scanTasks(fakeProc(tasks), ac.signal);
    expect(scan.stopped).toBe(true);
    expect(text(formatTasks(scan, 1, 0, 1 << 20).data)).toContain("the list is partial");
  });

  test("no /proc at all: a note, no throw; no uptime: running times unknown", async () => {
    const scan = await scanTasks(join(tempDir(), "missing"), live());
    const out = text(formatTasks(scan, undefined, 0, 1 << 20).data);
    expect(out).toContain("no such tasks");
    expect(out).toContain("/proc/uptime unreadable");
  });

  test("stacks unreadable everywhere: the output says S tasks could not be checked", async () => {
    const scan = await scanTasks(
      fakeProc([
        { pid: 7, comm: "x", state: "S", start: 1 },
        { pid: 8, comm: "y", state: "D", start: 1 },
      ]),
      live(),
    );
    const r = formatTasks(scan, 5, 0, 1 << 20);
    expect(text(r.data)).toContain("kernel stacks unreadable (ENOENT; they need root)");
    expect(text(r.data)).toContain("(kernel stack unreadable: ENOENT)");
    expect(r.note).toBe("ENOENT");
  });
});

describe("hung_tasks when a stack read hangs", () => {
  test("the scan goes on without stacks and says which read hung", async () => {
    const many = Array.from({ length: 40 }, (_, i) => ({
      pid: 2000 + i,
      comm: "d",
      state: "D",
      start: 1,
      stack: PLAIN_D,
    }));
    const proc = fakeProc([{ pid: 1999, comm: "exec", state: "D", start: 1 }, ...many]);
    // A FIFO without a writer: reading it blocks, as a stack read behind a held exec lock does.
    const fifo = join(proc, "1999", "task", "1999", "stack");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    try {
      const t0 = performance.now();
      const scan = await scanTasks(proc, live(), MAX_TASKS, 100);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(scan.stackTimeout).toBe(fifo);
      expect(scan.counts.otherD).toBe(41);
      const out = text(formatTasks(scan, 5, 0, 1 << 20).data);
      expect(out).toContain(`# reading ${fifo} hung`);
      expect(out).toContain("(kernel stack unreadable: read timed out after 100 ms)");
    } finally {
      // Let the blocked read finish: a writer opens and closes the FIFO.
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    }
  });
});

// A real task in D state: a vfork() parent waits uninterruptibly (killable) until its child execs or exits.
const VFORK_C = `#include <unistd.h>
int main(void) { if (vfork() == 0) { sleep(30); _exit(0); } return 0; }
`;

describe("hung_tasks on this host", () => {
  const cc = Bun.which("cc");
  const skip = skipReason({ "needs root (kernel stacks)": !isRoot, "needs cc (a vfork helper)": !cc });

  test.skipIf(!!skip)("finds a real D-state task (a vfork parent) with wchan and kernel stack", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "vfork.c"), VFORK_C);
    const built = Bun.spawnSync([cc!, "-o", join(dir, "vfork"), join(dir, "vfork.c")]);
    expect(built.exitCode).toBe(0);
    const proc = Bun.spawn([join(dir, "vfork")], { stdout: "ignore", stderr: "ignore" });
    try {
      for (let i = 0; i < 100; i++) {
        const st = parseStat(
          (await Bun.file(`/proc/${proc.pid}/stat`)
            .text()
            .catch(() => "")) || "",
        );
        if (st?.state === "D") break;
        await Bun.sleep(20);
      }
      const [r] = await runActions(["hung_tasks"], parseConfigText("", "t"), Date.now());
      expect(r!.status).toBe("ok");
      expect(r!.file).toBe("hung_tasks.log");
      const out = text(r!.data);
      const line = out.split("\n").find((l) => l.startsWith(`pid=${proc.pid} `));
      expect(line).toBeDefined();
      expect(line).toContain('comm="vfork" state=D');
      expect(line).toContain("share_frames=no");
      expect(line).toMatch(/wchan=\S+ running_sec=\d+\.\d/);
      const after = out.slice(out.indexOf(line!) + line!.length + 1);
      expect(after).toMatch(/^ {2}\[<[0-9a-f]+>\] \S+/);
      expect(after.split("\n\n")[0]).toContain("vfork");
    } finally {
      // The vfork child (sleeping) and the parent, by pid.
      const children = await Bun.file(`/proc/${proc.pid}/task/${proc.pid}/children`)
        .text()
        .catch(() => "");
      for (const c of children.split(" ").filter(Boolean)) process.kill(Number(c), "SIGKILL");
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });
});
