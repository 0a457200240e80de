// Replaced at build time by `bun build --define AOD_VERSION=...`; from source, package.json's.
declare const AOD_VERSION: string | undefined;

import pkg from "../package.json" with { type: "json" };
export const VERSION: string = typeof AOD_VERSION === "string" ? AOD_VERSION : pkg.version;
