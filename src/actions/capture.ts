// Reading a command's output or a file, bounded by the cap and the deadline.
// Commands are argv arrays: nothing goes through a shell.
import { closeSync, openSync, readSync } from "node:fs";
import { FALLBACK_PATH, findBinary } from "../host/which";
import type { ActionContext, ActionOutput } from "./context";

export async function captureCommand(
  argv: string[],
  ctx: ActionContext,
  env: Record<string, string> = {},
): Promise<ActionOutput> {
  const exe = findBinary(argv[0]!);
  if (!exe) return { data: new Uint8Array(0), truncated: false, exitStatus: 127, note: `${argv[0]} not found` };
  const proc = Bun.spawn([exe, ...argv.slice(1)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    // The child's own PATH: the system directories only, whatever aod's was.
    env: { PATH: FALLBACK_PATH, LANG: "C.UTF-8", TZ: "UTC", ...env },
  });
  const kill = () => proc.kill("SIGKILL");
  ctx.signal.addEventListener("abort", kill, { once: true });
  try {
    const [out, err] = await Promise.all([readCapped(proc.stdout, ctx.capBytes), readCapped(proc.stderr, 64 * 1024)]);
    const exitStatus = await proc.exited;
    const data = err.data.length && exitStatus !== 0 ? concat(out.data, enc(`\n--- stderr ---\n`), err.data) : out.data;
    return { data, truncated: out.truncated, exitStatus };
  } finally {
    ctx.signal.removeEventListener("abort", kill);
  }
}

async function readCapped(
  stream: ReadableStream<Uint8Array>,
  cap: number,
): Promise<{ data: Uint8Array; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    if (size >= cap) {
      truncated = true;
      continue; // keep draining so the child is never blocked on a full pipe
    }
    const take = Math.min(chunk.length, cap - size);
    if (take < chunk.length) truncated = true;
    chunks.push(chunk.subarray(0, take));
    size += take;
  }
  return { data: concat(...chunks), truncated };
}

/** Reads up to cap bytes of a file (works for /proc files, whose size is 0). */
export function captureFile(path: string, ctx: ActionContext): ActionOutput {
  const fd = openSync(path, "r");
  try {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const buf = new Uint8Array(Math.min(256 * 1024, ctx.capBytes - size + 1));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      size += n;
      if (size > ctx.capBytes) break;
      if (ctx.signal.aborted) throw new Error("timed out");
    }
    const all = concat(...chunks);
    return all.length > ctx.capBytes
      ? { data: all.subarray(0, ctx.capBytes), truncated: true }
      : { data: all, truncated: false };
  } finally {
    closeSync(fd);
  }
}

/** The last `lines` lines of a file, reading backwards from its end. */
export function tailFile(path: string, lines: number, ctx: ActionContext): ActionOutput {
  const fd = openSync(path, "r");
  try {
    const { size } = require("node:fs").fstatSync(fd) as { size: number };
    let pos = size;
    let buf: Uint8Array = new Uint8Array(0);
    let newlines = 0;
    while (pos > 0 && newlines <= lines && buf.length < ctx.capBytes) {
      const n = Math.min(64 * 1024, pos);
      pos -= n;
      const chunk = new Uint8Array(n);
      readSync(fd, chunk, 0, n, pos);
      for (const b of chunk) if (b === 10) newlines++;
      buf = concat(chunk, buf);
    }
    let text = new TextDecoder().decode(buf);
    const all = text.split("\n");
    if (all[all.length - 1] === "") all.pop();
    text = all.slice(-lines).join("\n") + (all.length ? "\n" : "");
    const data = enc(text);
    return data.length > ctx.capBytes
      ? { data: data.subarray(data.length - ctx.capBytes), truncated: true }
      : { data, truncated: false };
  } finally {
    closeSync(fd);
  }
}

export const enc = (s: string) => new TextEncoder().encode(s);
export function concat(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
