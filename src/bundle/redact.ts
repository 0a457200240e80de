// Redacted copies of a bundle, to share outside the organisation (the idea of
// sos report's `clean`): host names, IP addresses (v4 and v6), user and domain
// names and share paths become stable tokens — the same value gets the same
// token in every member (`host-1`, `ip-1`, `user-1`, `domain-1`, `share-1`) —
// and the value → token map is returned for the caller to keep private.
//
// Two passes over the members' text: the first finds the values (the
// bundle's `host` and the servers of anomaly.json, cifs/nfs mount lines,
// `username=`/`user=`/`domain=` options, DebugData's `Hostname:`, share paths
// and IP literals anywhere), the second replaces them in one scan per text,
// so nothing a replacement writes is scanned again. JSON members are
// rewritten inside their string literals only (numbers, even ones beyond
// 2^53, stay as they were), so they stay valid JSON. Members that are not
// UTF-8 are scanned byte for byte (latin1), so binary content survives.
import { isIPv4, isIPv6 } from "node:net";

export type TokenKind = "host" | "ip" | "user" | "domain" | "share";

/** Values by canonical key → token; every spelling seen → token. */
export class Tokens {
  private byKey = new Map<string, string>();
  private counts: Record<TokenKind, number> = { host: 0, ip: 0, user: 0, domain: 0, share: 0 };
  /** Every spelling that was (or will be) replaced → its token. */
  readonly values = new Map<string, string>();

  /** The token of a value, created on first sight; `key` canonical (case, IPv6 form). */
  token(kind: TokenKind, key: string, spelling: string): string {
    let t = this.byKey.get(key);
    if (!t) {
      t = `${kind}-${++this.counts[kind]}`;
      this.byKey.set(key, t);
    }
    if (!this.values.has(spelling)) this.values.set(spelling, t);
    return t;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** How many distinct values of each kind. */
  summary(): Record<TokenKind, number> {
    return { ...this.counts };
  }
}

/** An IP's canonical form (IPv6 compressed, lower case, zone kept); undefined when not an IP. */
function canonicalIp(v: string): string | undefined {
  const [addr, zone] = v.split("%", 2) as [string, string | undefined];
  if (isIPv4(addr)) return zone === undefined ? addr : undefined;
  if (!isIPv6(addr) || !/[0-9a-f]/i.test(addr)) return undefined;
  try {
    const h = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
    return zone ? `${h}%${zone}` : h;
  } catch {
    return addr.toLowerCase();
  }
}

const HOSTNAME_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_.$-]*[A-Za-z0-9_$])?$/;
/** A name with a dot and an alphabetic last label: srv.corp.example, files.core.windows.net. */
const DOTTED_RE = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z][A-Za-z0-9-]+$/;

/** Users whose name is no secret and too common to replace in free text. */
const COMMON_USERS = new Set(["root", "nobody", "guest"]);

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// One scanner for both passes. Alternatives, tried leftmost first:
//   unc:   \\server\share (also \\\\server\\share as JSON escapes it in text), or \\server alone
//   slash: //server/share (at a word start, or after smb:/cifs:/nfs:)
//   nfs:   server:/export (checked in code: an IP, a dotted name or a known host)
//   kv:    username=, user=, domain=, dom=, workgroup=, password=, pass= values
//   hn:    DebugData's "Hostname: name"
//   v6, v4: IP literals (v6 checked with isIPv6)
//   lit:   the names found in the first pass (second pass only)
const PATTERNS = [
  String.raw`(?<unc>(?<uncLead>\\\\(?:\\\\)?)(?<uncHost>[^\\\s"'/,;:*?<>|]+)(?:(?<uncSep>\\\\?)(?<uncShare>[^\\\s"',;:*?<>|]+))?)`,
  String.raw`(?<slash>(?:(?<![\w/:.])|(?<=\b(?:smb|cifs|nfs):))//(?<slHost>[A-Za-z0-9_][\w.$-]*)/(?<slShare>[^/\s"',;]+))`,
  String.raw`(?<nfs>(?<![\w.:/\\-])(?<nfsHost>[A-Za-z0-9_][\w.-]*):(?<nfsPath>/[^\s"',;]*))`,
  String.raw`(?<kv>(?<![\w-])(?<kvKey>username|user|domain|dom|workgroup|password|pass)=(?<kvVal>[^,\s"';]+))`,
  String.raw`(?<hn>\bHostname:[ \t]*(?<hnVal>[^\s,;]+))`,
  String.raw`(?<v6>(?<![\w:.%])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|\d{1,3}(?:\.\d{1,3}){3})(?:%[\w.-]+)?(?![\w:]))`,
  String.raw`(?<v4>(?<=^|[^\w.]|\\x5c)(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![\w]|\.\d))`,
];

type Groups = Record<string, string | undefined>;

/** What the scanner does with a match: its replacement, or undefined to leave it (scanning goes on one character later). */
type Handler = (g: Groups, whole: string) => string | undefined;

function scan(text: string, re: RegExp, handle: Handler): string {
  re.lastIndex = 0;
  let out = "";
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const rep = handle(m.groups ?? {}, m[0]);
    if (rep === undefined) {
      re.lastIndex = m.index + 1;
      continue;
    }
    out += text.slice(at, m.index) + rep;
    at = m.index + m[0].length;
    re.lastIndex = at;
  }
  return at === 0 ? text : out + text.slice(at);
}

export interface RedactInput {
  name: string;
  bytes: Uint8Array;
}

export interface RedactResult {
  members: { name: string; bytes: Uint8Array }[];
  tokens: Tokens;
}

type Text = { name: string; text: string; latin1: boolean; json: boolean };

const utf8 = new TextDecoder("utf-8", { fatal: true });
function decode(m: RedactInput): Text {
  let text: string;
  let latin1 = false;
  try {
    text = utf8.decode(m.bytes);
  } catch {
    text = Buffer.from(m.bytes).toString("latin1");
    latin1 = true;
  }
  let json = /\.jsonl$/.test(m.name);
  if (!latin1 && /\.json$/.test(m.name)) {
    try {
      JSON.parse(text);
      json = true;
    } catch {}
  }
  return { name: m.name, text, latin1, json };
}
const encode = (t: Text, text: string): Uint8Array =>
  t.latin1 ? new Uint8Array(Buffer.from(text, "latin1")) : new TextEncoder().encode(text);

/** Applies f to the decoded content of every JSON string literal; the rest of the text stays byte for byte. */
function inJsonStrings(text: string, f: (s: string) => string): string {
  return text.replace(/"(?:[^"\\\n]|\\.)*"/g, (lit) => {
    let s: string;
    try {
      s = JSON.parse(lit) as string;
    } catch {
      return lit;
    }
    const r = f(s);
    return r === s ? lit : JSON.stringify(r);
  });
}

/** Where the text can hold values: the whole text, or each JSON string. */
function eachText(t: Text, f: (s: string) => string): string {
  return t.json ? inJsonStrings(t.text, f) : f(t.text);
}

export class Redactor {
  readonly tokens = new Tokens();
  /** Free-text names (canonical key → kind), from the first pass. */
  private names = new Map<string, TokenKind>();

  private nameToken(kind: TokenKind, value: string): string {
    const key = value.toLowerCase();
    const k = this.names.get(key) ?? kind;
    if (!this.names.has(key)) this.names.set(key, kind);
    return this.tokens.token(k, `name:${key}`, value);
  }

  /** A server: an IP or a host name. */
  private serverToken(value: string): string {
    const ip = canonicalIp(value.replace(/^\[(.*)\]$/, "$1"));
    if (ip) return this.tokens.token("ip", `ip:${ip}`, value);
    return this.nameToken("host", value);
  }

  private shareToken(server: string, share: string, spelling: string): string {
    const ip = canonicalIp(server);
    const s = ip ?? server.toLowerCase();
    return this.tokens.token("share", `share:${s}\\${share.toLowerCase()}`, spelling);
  }

  /** A user option's value: DOMAIN/user, DOMAIN\user, user%password, user@realm. */
  private userValue(v: string): string {
    const [who, pw] = v.split("%", 2) as [string, string | undefined];
    const sep = /[\\/]/.exec(who);
    let out: string;
    if (sep) {
      const dom = who.slice(0, sep.index);
      const user = who.slice(sep.index + 1);
      out = `${dom ? this.nameToken("domain", dom) : ""}${sep[0]}${user ? this.nameToken("user", user) : ""}`;
    } else {
      const at = who.indexOf("@");
      out =
        at > 0
          ? `${this.nameToken("user", who.slice(0, at))}@${this.nameToken("domain", who.slice(at + 1))}`
          : this.nameToken("user", who);
    }
    return pw === undefined ? out : `${out}%***`;
  }

  private knownServer(host: string): boolean {
    return canonicalIp(host) !== undefined || DOTTED_RE.test(host) || this.tokens.has(`name:${host.toLowerCase()}`);
  }

  private handler: Handler = (g) => {
    if (g.unc !== undefined) {
      const host = g.uncHost!;
      const share = g.uncShare;
      if (!HOSTNAME_RE.test(host) && !canonicalIp(host)) return undefined;
      if (share === undefined) return `${g.uncLead}${this.serverToken(host)}`; // a server alone
      // \\\\h\\s (JSON-escaped) and \\h\s both name \\h\s.
      const escaped = g.uncLead!.length === 4;
      if (escaped !== (g.uncSep!.length === 2)) return undefined;
      const spelling = `\\\\${host}\\${share}`;
      return `${g.uncLead}${this.serverToken(host)}${g.uncSep}${this.shareToken(host, share, spelling)}`;
    }
    if (g.slash !== undefined) {
      const host = g.slHost!;
      const share = g.slShare!;
      return `//${this.serverToken(host)}/${this.shareToken(host, share, `//${host}/${share}`)}`;
    }
    if (g.nfs !== undefined) {
      const host = g.nfsHost!;
      if (!this.knownServer(host)) return undefined;
      const path = g.nfsPath!;
      if (path === "/") return `${this.serverToken(host)}:/`;
      return `${this.serverToken(host)}:/${this.shareToken(host, path, `${host}:${path}`)}`;
    }
    if (g.kv !== undefined) {
      const key = g.kvKey!.toLowerCase();
      const v = g.kvVal!;
      if (key === "password" || key === "pass") return `${g.kvKey}=***`;
      if (key === "user" || key === "username") return `${g.kvKey}=${this.userValue(v)}`;
      return `${g.kvKey}=${this.nameToken("domain", v)}`;
    }
    if (g.hn !== undefined) {
      const v = g.hnVal!;
      return g.hn.slice(0, g.hn.length - v.length) + this.serverToken(v);
    }
    if (g.v6 !== undefined) {
      const ip = canonicalIp(g.v6);
      return ip ? this.tokens.token("ip", `ip:${ip}`, g.v6) : undefined;
    }
    if (g.v4 !== undefined) return this.tokens.token("ip", `ip:${g.v4}`, g.v4);
    if (g.lit !== undefined) return this.nameToken(this.names.get(g.lit.toLowerCase()) ?? "host", g.lit);
    return undefined;
  };

  /** Values the JSON structure names: the bundle's host, servers of triggers and details, users and domains. */
  private fromJson(doc: unknown, depth = 0): void {
    if (depth > 32 || typeof doc !== "object" || doc === null) return;
    for (const [k, v] of Object.entries(doc)) {
      const strings = typeof v === "string" ? [v] : Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
      const key = k.toLowerCase();
      for (const s of strings) {
        if (!s) continue;
        if (["host", "hostname", "server", "servers"].includes(key)) {
          const name = s.replace(/:\d+$/, "");
          this.serverToken(name);
          // The bundle's own host: its short name too (journal lines carry it).
          if ((key === "host" || key === "hostname") && DOTTED_RE.test(name))
            this.nameToken("host", name.split(".")[0]!);
        } else if (key === "user" || key === "username") this.userValue(s);
        else if (key === "domain") this.nameToken("domain", s);
      }
      if (typeof v === "object") this.fromJson(v, depth + 1);
    }
  }

  /** nfs mount lines (`server:/export /mnt nfs4 …`): their servers are known before scanning. */
  private fromMountLines(text: string): void {
    for (const m of text.matchAll(/^([^\s:]+):(\/\S*)\s+\S+\s+nfs4?\s/gm)) this.serverToken(m[1]!);
  }

  /** First pass over every member, then the replacement pass; the same Redactor for the whole bundle. */
  redact(members: RedactInput[]): RedactResult {
    const texts = members.map(decode);
    // The bundle's own host first: host-1.
    const anomaly = texts.find((t) => t.name === "anomaly.json" && t.json);
    if (anomaly) {
      const doc = JSON.parse(anomaly.text) as unknown;
      const host = (doc as { host?: unknown } | null)?.host;
      if (typeof host === "string" && host) this.fromJson({ host });
      this.fromJson(doc);
    }
    for (const t of texts) {
      if (t.json && t !== anomaly && !t.name.endsWith(".jsonl")) this.fromJson(JSON.parse(t.text));
      this.fromMountLines(t.text);
    }
    const base = new RegExp(PATTERNS.join("|"), "gi");
    for (const t of texts) eachText(t, (s) => scan(s, base, this.handler));
    const re = this.scanner();
    return {
      members: texts.map((t) => ({
        name: t.name,
        bytes: encode(
          t,
          eachText(t, (s) => scan(s, re, this.handler)),
        ),
      })),
      tokens: this.tokens,
    };
  }

  /** The patterns and, last, the names found, longest first, as whole words. */
  private scanner(): RegExp {
    const lits = [...this.names.entries()]
      .filter(
        ([k, kind]) =>
          k.length >= (kind === "host" ? 2 : 3) && !/^\d+$/.test(k) && !(kind === "user" && COMMON_USERS.has(k)),
      )
      .map(([k]) => k)
      .sort((a, b) => b.length - a.length);
    const alts = [...PATTERNS];
    if (lits.length)
      alts.push(`(?<lit>(?<=^|[^\\w.-]|\\\\x5c)(?:${lits.map(escapeRe).join("|")})(?![\\w-]|\\.[A-Za-z0-9]))`);
    return new RegExp(alts.join("|"), "gi");
  }
}

/** Redacts a bundle's members (manifest.json excluded by the caller: it is rewritten). */
export function redactMembers(members: RedactInput[]): RedactResult {
  return new Redactor().redact(members);
}
