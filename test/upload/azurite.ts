// Test helpers for the Azure Blob target: a real Azurite blob server (Node,
// from the azurite devDependency) on a free loopback port, service SAS tokens
// signed with the emulator's well-known key, and a fake instance metadata
// service whose tokens Azurite's basic OAuth mode accepts.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT, tempDir } from "../helpers";

export const ACCOUNT = "devstoreaccount1";
/** Azurite's documented development key (public, not a secret). */
export const ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const SAS_VERSION = "2021-08-06";
const AZURITE = join(ROOT, "node_modules/azurite/dist/src/blob/main.js");

/** Why Azurite cannot run here (printed), or undefined when it can. */
export function azuriteMissing(opts: { https?: boolean } = {}): string | undefined {
  const reasons: [string, boolean][] = [
    ["node is not installed (Azurite runs on Node)", !Bun.which("node")],
    ["npm package azurite is not installed (npm ci)", !existsSync(AZURITE)],
    ["openssl is not installed (Azurite's HTTPS certificate)", !!opts.https && !Bun.which("openssl")],
  ];
  const why = reasons.find(([, missing]) => missing)?.[0];
  if (why) console.warn(`SKIP azure blob tests: ${why}`);
  return why;
}

export interface AzuriteOptions {
  /** Serve HTTPS with a self-signed certificate for 127.0.0.1/localhost (caFile). */
  https?: boolean;
  /** Azurite's basic OAuth (bearer tokens from startFakeImds); implies https. */
  oauth?: boolean;
}

export interface AzuriteRequest {
  method: string;
  /** Path and query as sent (the query holds SAS signatures: test output only). */
  target: string;
  status: number;
}

export interface Azurite {
  /** Path-style account URL: http(s)://127.0.0.1:PORT/devstoreaccount1 */
  url: string;
  port: number;
  /** PEM of the self-signed certificate (https only): the target's ca_file. */
  caFile?: string;
  /** Where Azurite keeps its data (and the certificate). */
  dir: string;
  /** Stops the server (SIGTERM, so it saves its database); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
  createContainer(name: string): Promise<void>;
  listBlobs(container: string): Promise<string[]>;
  /** A blob's bytes and metadata (names lower-case), or undefined when absent. */
  getBlob(
    container: string,
    name: string,
  ): Promise<{ bytes: Uint8Array; metadata: Record<string, string> } | undefined>;
  /** Requests Azurite has logged so far (its access log), oldest first. */
  requests(): AzuriteRequest[];
}

/**
 * Runs Azurite's main script (argv[1], as if started directly) and ends it
 * when its stdin closes: when the test process dies, however it dies, the
 * server goes too (bun test runs no exit hooks).
 */
const WATCHDOG = [
  "process.stdin.on('end', () => { process.kill(process.pid, 'SIGTERM'); setTimeout(() => process.exit(0), 3000).unref(); });",
  "process.stdin.on('error', () => {});",
  "process.stdin.resume();",
  "require(process.argv[1]);",
].join(" ");

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** A self-signed certificate (its own CA) for 127.0.0.1 and localhost, in dir. */
export function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-sha256",
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`openssl failed: ${r.stderr.toString()}`);
  return { cert, key };
}

export async function startAzurite(opts: AzuriteOptions = {}): Promise<Azurite> {
  const https = opts.https || opts.oauth;
  const dir = tempDir("aod-azurite-");
  const data = join(dir, "data");
  mkdirSync(data);
  const tls = https ? makeCert(dir) : undefined;
  const port = await freePort();
  const url = `${https ? "https" : "http"}://127.0.0.1:${port}/${ACCOUNT}`;
  const ca = tls ? readFileSync(tls.cert, "utf8") : undefined;
  const log: AzuriteRequest[] = [];
  let proc: Bun.Subprocess<"pipe", "pipe", "pipe"> | undefined;
  let output = "";

  const start = async () => {
    const args = [AZURITE, "--blobHost", "127.0.0.1", "--blobPort", String(port), "-l", data, "--disableTelemetry"];
    if (tls) args.push("--cert", tls.cert, "--key", tls.key);
    if (opts.oauth) args.push("--oauth", "basic");
    output = "";
    const p = Bun.spawn(["node", "-e", WATCHDOG, ...args], { stdout: "pipe", stderr: "pipe", stdin: "pipe" });
    proc = p;
    let ready!: () => void;
    const listening = new Promise<void>((r) => {
      ready = r;
    });
    // Reads the log as it comes: readiness, then one access-log line per request.
    const read = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      let rest = "";
      for await (const chunk of stream) {
        rest += dec.decode(chunk, { stream: true });
        const lines = rest.split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          output += `${line}\n`;
          if (line.includes("successfully listens on")) ready();
          const m = /"(\w+) (\S+) HTTP\/[\d.]+" (\d+)/.exec(line);
          if (m) log.push({ method: m[1]!, target: m[2]!, status: Number(m[3]) });
        }
      }
    };
    read(p.stdout as ReadableStream<Uint8Array>);
    read(p.stderr as ReadableStream<Uint8Array>);
    const exited = p.exited.then((code) => {
      throw new Error(`azurite exited (${code}) before listening:\n${output}`);
    });
    const timeout = Bun.sleep(20_000).then(() => {
      throw new Error(`azurite did not listen within 20 s:\n${output}`);
    });
    try {
      await Promise.race([listening, exited, timeout]);
    } catch (e) {
      p.kill("SIGKILL");
      throw e;
    }
    exited.catch(() => {});
    timeout.catch(() => {});
  };

  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    // The watchdog turns the end of stdin into SIGTERM, on which Azurite saves its database and exits
    // (a signal from here would leave the open stdin holding the process up).
    p.stdin.end();
    const done = await Promise.race([p.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
    if (!done) {
      p.kill("SIGKILL");
      await p.exited;
    }
  };

  // Requests of the helper itself: an account SAS with every right, on the same TLS trust as the target.
  const admin = accountSas();
  const call = async (method: string, path: string, query: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/${path}?${query}${query ? "&" : ""}${admin}`, {
      method,
      headers: { "x-ms-version": SAS_VERSION, ...headers },
      ...(ca ? { tls: { ca: [ca] } } : {}),
    });

  await start();
  return {
    url,
    port,
    caFile: tls?.cert,
    dir,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async createContainer(name) {
      const res = await call("PUT", encodeURIComponent(name), "restype=container");
      if (res.status !== 201) throw new Error(`create container ${name}: HTTP ${res.status} ${await res.text()}`);
    },
    async listBlobs(container) {
      const res = await call("GET", encodeURIComponent(container), "restype=container&comp=list");
      const text = await res.text();
      if (res.status !== 200) throw new Error(`list ${container}: HTTP ${res.status} ${text}`);
      return [...text.matchAll(/<Blob>\s*<Name>([^<]*)<\/Name>/g)].map((m) => unxml(m[1]!));
    },
    async getBlob(container, name) {
      const path = `${encodeURIComponent(container)}/${name.split("/").map(encodeURIComponent).join("/")}`;
      const res = await call("GET", path, "");
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw new Error(`get ${container}/${name}: HTTP ${res.status} ${await res.text()}`);
      const metadata: Record<string, string> = {};
      for (const [k, v] of res.headers) if (k.startsWith("x-ms-meta-")) metadata[k.slice(10)] = v;
      return { bytes: new Uint8Array(await res.arrayBuffer()), metadata };
    },
    requests: () => [...log],
  };
}

/** XML text with its five entities decoded (blob names in List Blobs). */
export const unxml = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

/** Signs with the emulator's key (HMAC-SHA256 of the string-to-sign, base64). */
const sign = (stringToSign: string) =>
  createHmac("sha256", Buffer.from(ACCOUNT_KEY, "base64")).update(stringToSign, "utf8").digest("base64");

/** Expiry an hour ahead, in the whole-second ISO form SAS uses. */
const inAnHour = () => `${new Date(Date.now() + 3600_000).toISOString().slice(0, 19)}Z`;

/** An account SAS with every blob right (the helper's own container and read calls). */
function accountSas(): string {
  const sp = "rwdlacup";
  const se = inAnHour();
  // Version 2020-12-06 and later: account, sp, ss, srt, st, se, sip, spr, sv, ses, then a trailing newline.
  const sig = sign([ACCOUNT, sp, "b", "sco", "", se, "", "", SAS_VERSION, "", ""].join("\n"));
  return new URLSearchParams({ sv: SAS_VERSION, ss: "b", srt: "sco", sp, se, sig }).toString();
}

export interface SasOptions {
  container: string;
  /** Leave out read: create and write only, as a least-privilege upload token. */
  writeOnly?: boolean;
  /** A signature made with the wrong key: the server answers 403. */
  badSignature?: boolean;
  /** Expiry; default an hour from now. */
  expiry?: Date;
}

/** A container (service) SAS for devstoreaccount1: read+create+write, or create+write only. */
export function makeSas(opts: SasOptions): string {
  // Canonical order of container permissions: r a c w d ...
  const sp = opts.writeOnly ? "cw" : "rcw";
  const se = opts.expiry ? `${opts.expiry.toISOString().slice(0, 19)}Z` : inAnHour();
  // Version 2020-12-06 and later: sp, st, se, canonical resource, si, sip, spr, sv, sr, snapshot time,
  // ses, rscc, rscd, rsce, rscl, rsct.
  const toSign = [sp, "", se, `/blob/${ACCOUNT}/${opts.container}`, "", "", "", SAS_VERSION, "c", "", ""]
    .concat(["", "", "", "", ""])
    .join("\n");
  const sig = opts.badSignature ? createHmac("sha256", randomBytes(64)).update(toSign).digest("base64") : sign(toSign);
  return new URLSearchParams({ sv: SAS_VERSION, sr: "c", sp, se, sig }).toString();
}

export interface FakeImdsOptions {
  /** The VM has a system-assigned identity (default true). */
  systemAssigned?: boolean;
  /** Client ids of user-assigned identities on the VM. */
  userAssigned?: string[];
  /** Token lifetime in seconds (default 86399, as IMDS issues for managed identities). */
  lifetimeSec?: number;
  /** Issue tokens for this audience instead of the requested resource (a token storage refuses). */
  audience?: string;
}

export interface FakeImds {
  /** Base URL: the target's imds_endpoint. */
  endpoint: string;
  /** Every request received. */
  requests: number;
  /** Tokens issued. */
  tokens: number;
  stop(): Promise<void>;
}

const b64url = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/**
 * Answers IMDS's token request the way the real service does (2018-02-01):
 * a JSON body whose numbers are strings, 400 invalid_request for a missing
 * Metadata header or an unknown identity. The token is an unsigned-in-effect
 * JWT (Azurite's basic mode checks audience, issuer and lifetime, not the
 * signature).
 */
export function startFakeImds(opts: FakeImdsOptions = {}): FakeImds {
  const systemAssigned = opts.systemAssigned ?? true;
  const userAssigned = opts.userAssigned ?? [];
  const lifetime = opts.lifetimeSec ?? 86399;
  const tenant = randomUUID();
  const systemId = randomUUID();
  const state = { requests: 0, tokens: 0 };
  const bad = (description: string) =>
    Response.json({ error: "invalid_request", error_description: description }, { status: 400 });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      state.requests++;
      const u = new URL(req.url);
      if (u.pathname !== "/metadata/identity/oauth2/token") return new Response("Not Found", { status: 404 });
      if (req.method !== "GET") return new Response("Method Not Allowed", { status: 405 });
      if (req.headers.get("metadata") !== "true") return bad("Required metadata header not specified");
      if (req.headers.has("x-forwarded-for")) return bad("Request contains a forwarding header");
      if (u.searchParams.get("api-version") !== "2018-02-01")
        return Response.json(
          { error: "invalid_request", error_description: "Invalid or missing api-version" },
          { status: 400 },
        );
      const resource = u.searchParams.get("resource");
      if (!resource) return bad("Required audience parameter not specified");
      const asked = u.searchParams.get("client_id");
      let clientId: string;
      if (asked) {
        if (!userAssigned.includes(asked)) return bad("Identity not found");
        clientId = asked;
      } else if (systemAssigned) clientId = systemId;
      else if (userAssigned.length === 1) clientId = userAssigned[0]!;
      else if (userAssigned.length > 1)
        return bad(
          "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
        );
      else return bad("Identity not found");
      const now = Math.floor(Date.now() / 1000);
      // Entra ID back-dates nbf by 5 minutes to absorb clock differences.
      const claims = {
        aud: opts.audience ?? resource,
        iss: `https://sts.windows.net/${tenant}/`,
        iat: now - 300,
        nbf: now - 300,
        exp: now + lifetime,
        appid: clientId,
        appidacr: "2",
        idp: `https://sts.windows.net/${tenant}/`,
        oid: randomUUID(),
        sub: randomUUID(),
        tid: tenant,
        ver: "1.0",
      };
      const jwt = [
        b64url({ typ: "JWT", alg: "RS256", kid: "fake" }),
        b64url(claims),
        randomBytes(64).toString("base64url"),
      ].join(".");
      state.tokens++;
      return Response.json({
        access_token: jwt,
        client_id: clientId,
        expires_in: String(lifetime),
        expires_on: String(now + lifetime),
        ext_expires_in: String(lifetime),
        not_before: String(now - 300),
        resource,
        token_type: "Bearer",
      });
    },
  });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    get requests() {
      return state.requests;
    },
    get tokens() {
      return state.tokens;
    },
    stop: async () => {
      await server.stop(true);
    },
  };
}
