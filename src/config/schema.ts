// The config file's shape. Structure and types are checked here with valibot;
// meaning (known commands, errnos, actions, ...) is checked in ./validate.ts.
// An anomaly type's own keys live in its spec (src/detect/types).
// Every key has one home and a default, so a config moves between versions.
import * as v from "valibot";
import { UploadSchema } from "./upload";

export const num = (min: number, exclusiveMin = false) =>
  v.pipe(v.number(), exclusiveMin ? v.gtValue(min) : v.minValue(min));
export const int = (min: number) => v.pipe(v.number(), v.integer(), v.minValue(min));
const names = v.array(v.string());

export const DEFAULTS = {
  watch_interval_sec: 5,
  aod_output_dir: "/var/log/aod",
  default_threshold_ms: 10,
  cooldown_sec: 60,
  max_latency_ms: 1000,
  mode: "all",
  state_dir: "/var/lib/aod",
} as const;

export const CollectionSchema = v.strictObject({
  max_concurrent: v.optional(int(1), 4),
  queue_size: v.optional(int(0), 16),
  lookback_sec: v.optional(num(0), 300),
  action_timeout_sec: v.optional(num(0, true), 30),
  action_output_cap_mb: v.optional(num(0, true), 16),
  zstd_level: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(19)), 3),
  syslog_lines: v.optional(int(0), 100),
  max_trigger_events: v.optional(int(1), 50),
  stop_grace_sec: v.optional(num(0), 10),
  verbose_sec: v.optional(num(0, true), 10),
});

// The Prometheus exposition (src/metrics): off unless the section is there.
// Its meaning (addresses, file names) is checked in ./metrics.ts.
export const MetricsSchema = v.strictObject({
  listen: v.optional(v.string()),
  max_shares: v.optional(int(1), 64),
  textfile: v.optional(
    v.strictObject({
      path: v.pipe(v.string(), v.startsWith("/", "an absolute path")),
      interval_sec: v.optional(num(1), 15),
    }),
  ),
});

export const CustomActionSchema = v.strictObject({
  name: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a name of letters, digits, '_', '.', '-'")),
  command: v.optional(v.pipe(v.array(v.string()), v.minLength(1, "a non-empty argv list"))),
  file: v.optional(v.pipe(v.string(), v.startsWith("/", "an absolute path"))),
  timeout_sec: v.optional(num(0, true)),
});

/** The keys every anomaly accepts; each type adds its own (its spec's `keys`). */
export const COMMON_ANOMALY_KEYS = {
  type: v.string(),
  tool: v.optional(v.string()),
  mode: v.optional(v.string(), DEFAULTS.mode),
  acceptable_count: v.optional(int(1), 10),
  actions: v.optional(names, []),
  cooldown_sec: v.optional(num(0), DEFAULTS.cooldown_sec),
};

export const ConfigSchema = v.strictObject({
  watch_interval_sec: v.optional(num(0, true), DEFAULTS.watch_interval_sec),
  aod_output_dir: v.optional(v.pipe(v.string(), v.startsWith("/", "an absolute path")), DEFAULTS.aod_output_dir),
  watcher: v.optional(v.strictObject({ actions: v.optional(v.nullable(names), []) }), { actions: [] }),
  guardian: v.optional(v.strictObject({ anomalies: v.optional(v.nullable(v.record(v.string(), v.unknown())), {}) }), {
    anomalies: {},
  }),
  cleanup: v.optional(
    v.strictObject({
      cleanup_interval_sec: v.optional(num(0, true), 60),
      max_log_age_days: v.optional(num(0, true), 2),
      max_total_log_size_mb: v.optional(num(0, true), 200),
    }),
    {},
  ),
  audit: v.optional(v.strictObject({ enabled: v.optional(v.boolean(), false) }), {}),
  // The kernel flight recorder (src/recorder): its own tracefs instance, per-CPU ring in KiB.
  flight_recorder: v.optional(
    v.strictObject({
      enabled: v.optional(v.boolean(), true),
      buffer_kb: v.optional(v.pipe(v.number(), v.integer(), v.minValue(64), v.maxValue(1048576)), 1024),
    }),
    {},
  ),
  collection: v.optional(CollectionSchema, {}),
  metrics: v.optional(v.nullable(MetricsSchema)),
  // Bundles to object storage (src/upload): off unless the section is there.
  // Its meaning (keys per target, URLs) is checked in ./upload.ts.
  upload: v.optional(v.nullable(UploadSchema)),
  // State that must survive restarts (upload state, verbose settings, host id salt).
  state_dir: v.optional(
    v.pipe(v.string(), v.startsWith("/", "an absolute path")),
    () => process.env.AOD_STATE_DIR || DEFAULTS.state_dir,
  ),
  custom_actions: v.optional(v.nullable(v.array(CustomActionSchema)), []),
});

export type RawConfig = v.InferOutput<typeof ConfigSchema>;
export type CustomAction = v.InferOutput<typeof CustomActionSchema>;
export type CollectionConfig = v.InferOutput<typeof CollectionSchema>;
export type MetricsConfig = v.InferOutput<typeof MetricsSchema>;

/** The parts of a valibot schema keysAt() walks through. */
interface SchemaNode {
  type: string;
  wrapped?: SchemaNode;
  entries?: Record<string, SchemaNode>;
  item?: SchemaNode;
  value?: SchemaNode;
}

/** The keys an object schema accepts at a path inside `schema` (for "did you mean"). */
export function keysAt(schema: v.GenericSchema, path: readonly (string | number)[]): string[] {
  let s: SchemaNode | undefined = schema;
  for (const key of path) {
    while (s && (s.type === "optional" || s.type === "nullable")) s = s.wrapped;
    if (!s) return [];
    if (s.type === "strict_object" || s.type === "object") s = s.entries?.[key as string];
    else if (s.type === "array") s = s.item;
    else if (s.type === "record") s = s.value;
    else return [];
  }
  while (s && (s.type === "optional" || s.type === "nullable")) s = s.wrapped;
  return s?.entries ? Object.keys(s.entries) : [];
}
