// Kept for importers of the old path: the built-in actions' table is ./builtin/index.ts.
export { actionFileName, BUILTIN_ACTION_NAMES } from "./builtin";
