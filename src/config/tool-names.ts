// Tool names as config files spell them. `smbiosnoop` is the prototype's name
// for the error tool; `smberr` is accepted as its alias.
export const TOOL_NAMES = {
  smbslower: { canonical: "smbslower", anomalyType: "latency" },
  smbiosnoop: { canonical: "smbiosnoop", anomalyType: "error" },
  smberr: { canonical: "smbiosnoop", anomalyType: "error" },
} as const;

export type ToolName = "smbslower" | "smbiosnoop";
export function isToolName(s: string): s is keyof typeof TOOL_NAMES {
  return Object.hasOwn(TOOL_NAMES, s);
}
