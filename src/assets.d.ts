// Files embedded in the binary with `import path from "..." with { type: "file" }`:
// the import is the path to read the bytes from (inside the compiled binary, a
// /$bunfs/ path). One place for every kind the tree embeds.

// BPF objects built from bpf/*.bpf.c (src/tools/registry.ts).
declare module "*.bpf.o" {
  const path: string;
  export default path;
}
// The runtime libraries built by scripts/libs (src/native/embedded-libs.ts).
declare module "*.so.1" {
  const path: string;
  export default path;
}
// resvg's WebAssembly module and the font for plots (src/perf/plot.ts).
declare module "*.wasm" {
  const path: string;
  export default path;
}
declare module "*.ttf" {
  const path: string;
  export default path;
}
