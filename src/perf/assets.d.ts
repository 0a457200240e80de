// Files embedded with `import path from "..." with { type: "file" }` (see plot.ts).
declare module "*.wasm" {
  const path: string;
  export default path;
}
declare module "*.ttf" {
  const path: string;
  export default path;
}
