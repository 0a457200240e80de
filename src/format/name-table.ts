// A protocol's names for its numbers (SMB2 commands, NFS procedures, ...):
// what configs, event lines and histograms use, whatever the protocol.
export interface NameTable {
  /** What a name is, in messages ("SMB2 command"). */
  what: string;
  /** A name to show in messages ("such as SMB2_READ"). */
  example: string;
  /** Every name, at its id. */
  names: readonly string[];
  id(name: string): number | undefined;
  /**
   * Every id a name in a config selects: its own, or several for a name that
   * stands for a family (NFS: "WRITE" is v3:WRITE and v4:WRITE).
   */
  ids(name: string): readonly number[] | undefined;
  /** Names to suggest for a typo (default: `names`). */
  suggestions?: readonly string[];
  /** The name of an id; ids outside the table get a printable stand-in. */
  name(id: number): string;
}

export function nameTable(
  what: string,
  names: readonly string[],
  example: string,
  unknown: (id: number) => string,
): NameTable {
  const ids = new Map<string, number>(names.map((n, i) => [n, i]));
  return {
    what,
    names,
    example,
    id: (n) => ids.get(n),
    ids: (n) => {
      const id = ids.get(n);
      return id === undefined ? undefined : [id];
    },
    name: (id) => names[id] ?? unknown(id),
  };
}
