// The event source of a config: one ToolSource per protocol some rule's tool
// belongs to (SMB when no rule names a tool at all), combined when several.
import { MultiSource } from "./multi-source";
import { PROTOCOLS, toolByName } from "./registry";
import type { EventSource } from "./source";
import type { Protocol, ToolSourceOptions } from "./spec";
import { ToolSource } from "./tool-source";

/** The protocols whose tools `filters` (tool name → merged filter) feed, in table order. */
export function protocolsOf(filters: Readonly<Record<string, unknown>>): Protocol[] {
  const names = new Set(Object.keys(filters).map((t) => toolByName(t)?.protocol));
  const used = PROTOCOLS.filter((p) => names.has(p.name));
  return used.length ? used : [PROTOCOLS[0]!];
}

/** One source for every protocol of `filters`; `onAttached` gets the protocol that attached. */
export function sourceFor(
  filters: Readonly<Record<string, unknown>>,
  opts: Omit<ToolSourceOptions, "onAttached"> & { onAttached?: (p: Protocol) => void } = {},
  protocols = protocolsOf(filters),
): EventSource & { sources: readonly ToolSource[] } {
  const sources = protocols.map(
    (p) => new ToolSource(p.name, filters, { ...opts, onAttached: () => opts.onAttached?.(p) }),
  );
  if (sources.length === 1) return Object.assign(sources[0]!, { sources });
  return new MultiSource(sources);
}
