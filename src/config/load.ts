// Finds, reads and validates the config: --config, then $AOD_CONFIG, then
// /etc/aod/config.yaml, then the default embedded in the binary.
import { lstatSync, readFileSync, statSync } from "node:fs";
import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import defaultConfigText from "../../config/aod.yaml" with { type: "text" };
import { errorCode, errorMessage } from "../util/errors";
import { ConfigError, type Problem } from "./problems";
import type { ConfigRegistry } from "./spec";
import { type Config, type Path, validateConfig } from "./validate";

export const SYSTEM_CONFIG_PATH = "/etc/aod/config.yaml";
export const EMBEDDED_SOURCE = "embedded default config";
export const DEFAULT_CONFIG_TEXT: string = defaultConfigText;

export interface ConfigLocation {
  path?: string; // undefined: the embedded default
  why: string;
}

export function locateConfig(flag?: string, env = process.env): ConfigLocation {
  if (flag) return { path: flag, why: "--config" };
  if (env.AOD_CONFIG) return { path: env.AOD_CONFIG, why: "$AOD_CONFIG" };
  try {
    statSync(SYSTEM_CONFIG_PATH);
    return { path: SYSTEM_CONFIG_PATH, why: "system config" };
  } catch {
    return { why: "no --config, $AOD_CONFIG or /etc/aod/config.yaml" };
  }
}

/** Line/column of a key path inside the YAML document, for messages. */
function locate(doc: Document, lc: LineCounter, at: Path, keyOnly = false): { line?: number; col?: number } {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const key of at) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) break;
      offset = isNode(pair.key) ? pair.key.range?.[0] : undefined;
      node = pair.value;
      if (!keyOnly && isNode(node) && node.range) offset = node.range[0];
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key];
      offset = (isNode(node) ? node.range?.[0] : undefined) ?? offset;
    } else break;
  }
  if (offset === undefined) return {};
  const { line, col } = lc.linePos(offset);
  return { line, col };
}

/** Parses and validates config text against the registry's anomaly types, actions and tools (src/registry.ts binds it). */
export function parseConfigTextWith(registry: ConfigRegistry, text: string, source: string): Config {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    const problems: Problem[] = doc.errors.map((e) => ({
      path: "",
      message: `YAML syntax error: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`,
      line: e.linePos?.[0].line,
      col: e.linePos?.[0].col,
    }));
    throw new ConfigError(source, problems);
  }
  const { config, problems } = validateConfig(doc.toJS({ maxAliasCount: 100 }), source, registry);
  if (problems.length || !config) {
    throw new ConfigError(
      source,
      problems.map(({ at, keyOnly, ...p }) => ({ ...p, ...locate(doc, lc, at, keyOnly) })),
    );
  }
  return config;
}

/**
 * A config that defines commands run by a root daemon must not be writable by
 * anyone but root, or it is a way to run code as root.
 */
function checkCommandConfigSafety(path: string, config: Config): void {
  if (process.geteuid?.() !== 0) return;
  if (!config.custom_actions.some((a) => a.command)) return;
  const st = statSync(path);
  const lst = lstatSync(path);
  const bad: string[] = [];
  if (st.uid !== 0) bad.push(`it is owned by uid ${st.uid}, not root`);
  if (st.mode & 0o022)
    bad.push(`it is writable by ${st.mode & 0o002 ? "everyone" : "its group"} (mode ${(st.mode & 0o777).toString(8)})`);
  if (lst.isSymbolicLink() && lst.uid !== 0) bad.push("it is a symlink owned by a non-root user");
  if (bad.length)
    throw new ConfigError(path, [
      {
        path: "custom_actions",
        message: `defines commands that aod would run as root, but ${bad.join(" and ")}. Fix: chown root:root ${path} && chmod 600 ${path}`,
      },
    ]);
}

export function loadConfigWith(registry: ConfigRegistry, flag?: string, env = process.env): Config {
  const where = locateConfig(flag, env);
  if (!where.path) return parseConfigTextWith(registry, DEFAULT_CONFIG_TEXT, EMBEDDED_SOURCE);
  let text: string;
  try {
    text = readFileSync(where.path, "utf8");
  } catch (e) {
    const how =
      errorCode(e) === "ENOENT"
        ? "no such file"
        : errorCode(e) === "EACCES"
          ? "permission denied"
          : errorCode(e) === "EISDIR"
            ? "it is a directory"
            : errorMessage(e);
    throw new ConfigError(where.path, [
      { path: "", message: `cannot read the config file (from ${where.why}): ${how}` },
    ]);
  }
  const config = parseConfigTextWith(registry, text, where.path);
  checkCommandConfigSafety(where.path, config);
  return config;
}
