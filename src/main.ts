// Entry point of the compiled binary and of `bun src/main.ts`.
import { run } from "./cli/main";

process.exitCode = await run(process.argv.slice(2));
