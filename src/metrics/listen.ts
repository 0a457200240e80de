// `metrics.listen`: where /metrics is served. A TCP address as host:port (an
// IPv4 literal, [IPv6 literal] or localhost; aod resolves no other names) or
// an absolute path, a unix socket. Pure: the config check, the server and the
// systemd unit generator read it the same way.
import { isIP } from "node:net";

export type Listen =
  | {
      kind: "tcp";
      /** As Bun.serve takes it: no brackets around IPv6. */
      host: string;
      port: number;
      /** 127.0.0.0/8, ::1 or localhost. */
      loopback: boolean;
      /** 0.0.0.0 or :: (every interface). */
      any: boolean;
      /** The address families the socket needs ("AF_INET", "AF_INET6"). */
      families: ("AF_INET" | "AF_INET6")[];
    }
  | { kind: "unix"; path: string };

/** sun_path holds 108 bytes including the terminating NUL. */
export const UNIX_PATH_MAX = 107;

/** The address, or why it is not one (a sentence fragment after "expected …, found …: "). */
export function parseListen(text: string): { listen: Listen } | { error: string } {
  if (text.startsWith("/")) {
    if (Buffer.byteLength(text) > UNIX_PATH_MAX)
      return { error: `a unix socket path is at most ${UNIX_PATH_MAX} bytes (this one is ${Buffer.byteLength(text)})` };
    if (text.endsWith("/")) return { error: "a unix socket path names a file, not a directory" };
    return { listen: { kind: "unix", path: text } };
  }
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(text);
  if (!m)
    return {
      error: 'expected host:port (127.0.0.1:9469, "[::1]:9469", localhost:9469) or an absolute unix socket path',
    };
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { error: `port ${m[3]} is not 1-65535` };
  const bracketed = m[1] !== undefined;
  const host = (m[1] ?? m[2])!;
  if (host === "")
    return {
      error:
        "give the address to listen on explicitly: 127.0.0.1:9469 (this host only), or 0.0.0.0:9469 for every interface",
    };
  if (host === "localhost")
    return {
      listen: { kind: "tcp", host, port, loopback: true, any: false, families: ["AF_INET", "AF_INET6"] },
    };
  const v = isIP(host);
  if (v === 0) return { error: `"${host}" is not an IP address: give one (aod resolves no host names but localhost)` };
  if (v === 6 && !bracketed) return { error: `write an IPv6 address in brackets: [${host}]:${port}` };
  if (v === 4 && bracketed) return { error: `only IPv6 addresses go in brackets: ${host}:${port}` };
  const loopback = v === 4 ? host.startsWith("127.") : isV6Loopback(host);
  const any = v === 4 ? host === "0.0.0.0" : isV6Any(host);
  return { listen: { kind: "tcp", host, port, loopback, any, families: [v === 4 ? "AF_INET" : "AF_INET6"] } };
}

// ::, 0:0:…:0 / ::1, 0:…:0:1 (an IP literal already, per isIP).
const isV6Any = (h: string) => /^[0:]*$/.test(h);
const isV6Loopback = (h: string) => /^[0:]*:0*1$/.test(h);

/** How logs and messages show it: host:port ([v6]:port) or the socket path. */
export function listenText(l: Listen): string {
  if (l.kind === "unix") return l.path;
  return `${l.host.includes(":") ? `[${l.host}]` : l.host}:${l.port}`;
}
