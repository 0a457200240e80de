// A key path inside the config (guardian.anomalies.x.track_commands[0]), as
// problems name it.
export type Path = (string | number)[];

export const pathString = (p: readonly (string | number)[]) =>
  p.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
