// /metrics over HTTP (Bun.serve) on a TCP address or a unix socket: GET
// /metrics, in the format the Accept header asks for; every other path is
// 404 and no other work is done here. A unix socket is made 0666 (like a
// loopback port, any local user may scrape; the directory limits who), and
// removed at stop.
import { chmodSync, lstatSync, rmSync } from "node:fs";
import type { Server } from "bun";
import { log } from "../log";
import { errorCode, errorMessage } from "../util/errors";
import { CONTENT_TYPE, type Format, negotiate } from "./exposition";
import { type Listen, listenText } from "./listen";

export class MetricsServer {
  private server?: Server<undefined>;
  scrapes = 0;

  constructor(
    readonly listen: Listen,
    private readonly render: (f: Format) => Uint8Array<ArrayBuffer> | string,
  ) {}

  /** Listens; throws (with the address in the message) when it cannot. */
  start(): void {
    const fetch = (req: Request): Response => {
      const path = new URL(req.url).pathname;
      if (path !== "/metrics") return new Response("not found: aod serves /metrics only\n", { status: 404 });
      if (req.method !== "GET" && req.method !== "HEAD")
        return new Response("method not allowed\n", { status: 405, headers: { Allow: "GET, HEAD" } });
      const format = negotiate(req.headers.get("accept"));
      let body: Uint8Array<ArrayBuffer> | string;
      try {
        body = this.render(format);
      } catch (e) {
        log.error("metrics: building the exposition failed", { error: errorMessage(e) });
        return new Response("internal error\n", { status: 500 });
      }
      this.scrapes++;
      return new Response(body, { headers: { "Content-Type": CONTENT_TYPE[format] } });
    };
    const common = { fetch, development: false, maxRequestBodySize: 4096 } as const;
    const l = this.listen;
    try {
      if (l.kind === "unix") {
        removeStaleSocket(l.path);
        this.server = Bun.serve({ ...common, unix: l.path });
        chmodSync(l.path, 0o666);
      } else this.server = Bun.serve({ ...common, hostname: l.host, port: l.port });
    } catch (e) {
      this.server?.stop(true);
      this.server = undefined;
      const code = errorCode(e);
      const msg = errorMessage(e);
      throw new Error(
        `cannot serve /metrics on ${listenText(l)}: ${msg}${code && !msg.includes(code) ? ` (${code})` : ""}`,
      );
    }
  }

  /** The port a TCP server got (the configured one). */
  get port(): number | undefined {
    return this.server?.port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await s.stop(true);
    if (this.listen.kind === "unix") rmSync(this.listen.path, { force: true });
  }
}

/**
 * A socket file left by an aod that did not stop cleanly (only one aod runs:
 * the instance lock); anything else at the path is not ours to remove.
 */
function removeStaleSocket(path: string): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  rmSync(path);
}
