// Connection: trouble with the connection to a server rather than with one
// request — the client lost its socket and reconnects, cannot connect, its
// session expired, it waited too long for credits or a tree connect failed.
// Fed by smbconn. Connection events come in ones and twos, so the type counts
// them over its own window (window_sec, default 60 s) instead of the watch
// interval: by default the second event within a minute fires (one blip of a
// flapping link — a single reconnect that succeeds — does not), and an expired
// session fires on its own.
import * as v from "valibot";
import { didYouMean } from "../../config/problems";
import { int, num } from "../../config/schema";
import type { CommonAnomalyKeys, RuleBase } from "../../config/spec";
import type { EventBatch } from "../../format/event";
import { toolKindId } from "../../tools/registry";
import { CONN_KIND_TABLE, CONN_KINDS, type SmbconnFilter } from "../../tools/smbconn";
import { type DetectorContext, WindowDetector } from "../anomaly";
import { defineAnomalyType } from "../spec";
import { selectByMode } from "./name-lists";

const keys = {
  track_kinds: v.optional(v.nullable(v.array(v.string())), []),
  exclude_kinds: v.optional(v.nullable(v.array(v.string())), []),
  acceptable_count: v.optional(int(1), 2),
  window_sec: v.optional(num(0, true), 60),
};

export interface ConnectionRule extends RuleBase {
  /** Tracked kinds (ids of CONN_KINDS). */
  kinds: number[];
  window_sec: number;
}

type Raw = CommonAnomalyKeys & v.InferOutput<v.StrictObjectSchema<typeof keys, undefined>>;

const SESSION_EXPIRED = CONN_KIND_TABLE.id("session_expired")!;

export class ConnectionDetector extends WindowDetector<ConnectionRule> {
  private readonly tracked = new Uint8Array(32);

  constructor(
    rule: ConnectionRule,
    ctx: DetectorContext,
    private readonly kind: number,
  ) {
    super(rule, ctx);
    for (const k of rule.kinds) this.tracked[k] = 1;
  }

  protected score(b: EventBatch, i: number): number {
    return b.tool[i] === this.kind && this.tracked[b.command[i]!] ? 1 : 0;
  }

  protected hard(b: EventBatch, i: number): string | undefined {
    return b.command[i] === SESSION_EXPIRED ? "the server expired an SMB session (session_expired)" : undefined;
  }

  protected reasonFor(count: number): string {
    return `${count} connection events within ${this.ctx.windowSec} s (acceptable_count ${this.rule.acceptable_count})`;
  }
}

const unknownKind = (k: string) =>
  `unknown connection event kind ${JSON.stringify(k)}${didYouMean(k, CONN_KINDS)} (allowed: ${CONN_KINDS.join(", ")})`;

/** Each distinct value of a trigger field, in order of appearance. */
const distinct = (values: unknown[]) => [...new Set(values.filter((x) => typeof x === "string" && x))];

export const connection = defineAnomalyType<Raw, ConnectionRule>({
  type: "connection",
  title: "Connection",
  tools: ["smbconn"],
  keys,

  compile(c, ctx) {
    const kinds = selectByMode(ctx, {
      trackKey: "track_kinds",
      excludeKey: "exclude_kinds",
      track: c.track_kinds ?? [],
      exclude: c.exclude_kinds ?? [],
      all: CONN_KINDS,
      id: (k) => CONN_KIND_TABLE.id(k),
      unknown: unknownKind,
      what: "connection event kind",
    });
    if (!kinds) return undefined;
    return {
      name: ctx.name,
      type: "connection",
      tool: ctx.tool,
      mode: ctx.mode,
      acceptable_count: c.acceptable_count,
      actions: c.actions,
      cooldown_sec: c.cooldown_sec,
      kinds,
      window_sec: c.window_sec,
    };
  },

  fileShape: (c, { mode, tool }) => ({
    ...c,
    mode,
    tool,
    type: "Connection",
    track_kinds: c.track_kinds ?? [],
    exclude_kinds: c.exclude_kinds ?? [],
  }),

  detector: (rule, ctx) => new ConnectionDetector(rule, { ...ctx, windowSec: rule.window_sec }, toolKindId(rule.tool)),
  kernelFilter: (rule): SmbconnFilter => ({ kinds: rule.kinds }),
  summary: (r) =>
    `${r.name} (connection, ${r.kinds.map((k) => CONN_KIND_TABLE.name(k)).join("/")}, ≥${r.acceptable_count} in ${r.window_sec}s)`,
  logFields: (r) => ({
    acceptable_count: r.acceptable_count,
    window_sec: r.window_sec,
    kinds: r.kinds.map((k) => CONN_KIND_TABLE.name(k)),
    actions: r.actions,
    cooldown_sec: r.cooldown_sec,
  }),
  thresholds: (r) => ({
    acceptable_count: r.acceptable_count,
    window_sec: r.window_sec,
    cooldown_sec: r.cooldown_sec,
    kinds: r.kinds.map((k) => CONN_KIND_TABLE.name(k)),
  }),
  details: (a) => ({
    servers: distinct(a.triggers.map((t) => t.server)),
    kinds: distinct(a.triggers.map((t) => t.conn_kind)),
    shares: distinct(a.triggers.map((t) => t.share)),
  }),
});
