// The tables aod is assembled from, in one place: anomaly types
// (src/detect/types), built-in actions (src/actions/builtin), event tools
// (src/tools/registry.ts); and the config loader bound to them. Commands load
// configs through here; the generic loader (src/config) never names a type,
// an action or a tool.
import { BUILTIN_ACTION_NAMES } from "./actions/builtin";
import { loadConfigWith, parseConfigTextWith } from "./config/load";
import type { ConfigRegistry } from "./config/spec";
import type { Config } from "./config/validate";
import { ANOMALY_TYPES } from "./detect/types";
import { TOOL_NAMES } from "./tools/registry";

export const REGISTRY: ConfigRegistry = {
  anomalyTypes: ANOMALY_TYPES,
  actionNames: BUILTIN_ACTION_NAMES,
  toolNames: TOOL_NAMES,
};

/** The config aod would use (--config, $AOD_CONFIG, /etc/aod/config.yaml, the embedded default), validated. */
export const loadConfig = (flag?: string, env = process.env): Config => loadConfigWith(REGISTRY, flag, env);
/** Config text, validated; `source` names it in messages. */
export const parseConfigText = (text: string, source: string): Config => parseConfigTextWith(REGISTRY, text, source);
