// The editor's form state and its two-way mapping to a task config's JSON (the fields of a
// `[[tasks]]` table, docs/configuration.md). Fields the form does not show are kept from the
// loaded config, so editing never drops them. Numbers the user typed badly are sent as text,
// so that the server's own message about them shows next to the field.

export type SinkType = "file" | "kafka" | "redis";

export interface SinkForm {
  type: SinkType;
  name: string;
  path: string;
  brokers: string;
  topic: string;
  format: string;
  partition_by: string;
  exactly_once: boolean;
  properties: string;
  url: string;
  mode: string;
  key: string;
  redis_format: string;
  ttl_secs: string;
  tables: string;
  /// The sink as loaded: fields the form does not show.
  base: Record<string, any>;
}

export interface TaskForm {
  name: string;
  checkpoint_interval_ms: string;
  queue_max_mib: string;
  node_labels: string;
  source: { url: string; server_id: string; start: string; heartbeat_secs: string };
  include: string;
  exclude: string;
  include_columns: string;
  exclude_columns: string;
  ops: { c: boolean; u: boolean; d: boolean };
  ddl: boolean;
  sinks: SinkForm[];
  base: Record<string, any>;
}

const text = (v: unknown) => (v == null ? "" : String(v));
const lines = (v: unknown) => (Array.isArray(v) ? v.join("\n") : "");

export function newSink(type: SinkType, base: Record<string, any> = {}): SinkForm {
  const props = base.properties && typeof base.properties === "object" ? base.properties : {};
  return {
    type,
    name: text(base.name),
    path: text(base.path),
    brokers: text(base.brokers),
    topic: text(base.topic),
    format: text(type === "kafka" ? base.format : ""),
    partition_by: text(base.partition_by),
    exactly_once: base.exactly_once === true,
    properties: Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
    url: text(base.url),
    mode: text(base.mode),
    key: text(base.key),
    redis_format: text(type === "redis" ? base.format : ""),
    ttl_secs: text(base.ttl_secs),
    tables: lines(base.tables),
    base,
  };
}

export function emptyForm(): TaskForm {
  return fromConfig({ source: { start: "current" }, sinks: [{ type: "file", path: "" }] });
}

export function fromConfig(config: Record<string, any>): TaskForm {
  const filters = config.filters ?? {};
  const ops: string[] = filters.ops ?? ["c", "u", "d"];
  return {
    name: text(config.name),
    checkpoint_interval_ms: text(config.checkpoint_interval_ms),
    queue_max_mib: text(config.queue_max_mib),
    node_labels: (config.node_labels ?? []).join(", "),
    source: {
      url: text(config.source?.url),
      server_id: text(config.source?.server_id),
      start: text(config.source?.start),
      heartbeat_secs: text(config.source?.heartbeat_secs),
    },
    include: lines(filters.include),
    exclude: lines(filters.exclude),
    include_columns: lines(filters.include_columns),
    exclude_columns: lines(filters.exclude_columns),
    ops: { c: ops.includes("c"), u: ops.includes("u"), d: ops.includes("d") },
    ddl: filters.ddl !== false,
    sinks: (config.sinks ?? []).map((s: any) => newSink(s.type ?? "file", s)),
    base: config,
  };
}

/// A whole number as a number; anything else typed as text (for the server to name); empty
/// as absent (the default applies).
function number(v: string): number | string | undefined {
  const t = v.trim();
  if (!t) return undefined;
  return /^\d+$/.test(t) ? Number(t) : t;
}

function list(v: string, separator: RegExp = /\n/): string[] | undefined {
  const items = v
    .split(separator)
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length ? items : undefined;
}

/// Sets `key` to `value`, or removes it when the value is absent.
function put(target: Record<string, any>, key: string, value: unknown) {
  if (value === undefined || value === "") delete target[key];
  else target[key] = value;
}

function sinkConfig(s: SinkForm): Record<string, any> {
  // A changed type starts from a clean sink: the old type's fields would be unknown fields.
  const out: Record<string, any> = s.base.type === s.type ? structuredClone(s.base) : {};
  out.type = s.type;
  put(out, "name", s.name.trim());
  if (s.type === "file") put(out, "path", s.path);
  if (s.type === "kafka") {
    put(out, "brokers", s.brokers.trim());
    put(out, "topic", s.topic.trim());
    put(out, "format", s.format);
    put(out, "partition_by", s.partition_by);
    put(out, "exactly_once", s.exactly_once || undefined);
    const props = Object.fromEntries(
      (list(s.properties) ?? []).map((line) => {
        const at = line.indexOf("=");
        return at < 0 ? [line, ""] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
      }),
    );
    put(out, "properties", Object.keys(props).length ? props : undefined);
  }
  if (s.type === "redis") {
    put(out, "url", s.url.trim());
    put(out, "mode", s.mode);
    put(out, "key", s.key.trim());
    put(out, "format", s.redis_format);
    put(out, "ttl_secs", number(s.ttl_secs));
    put(out, "tables", list(s.tables));
  }
  return out;
}

export function toConfig(f: TaskForm): Record<string, any> {
  const out: Record<string, any> = structuredClone(f.base);
  put(out, "name", f.name.trim());
  put(out, "checkpoint_interval_ms", number(f.checkpoint_interval_ms));
  put(out, "queue_max_mib", number(f.queue_max_mib));
  put(out, "node_labels", list(f.node_labels, /,/));
  const source: Record<string, any> = { ...(f.base.source ?? {}) };
  put(source, "url", f.source.url.trim());
  put(source, "server_id", number(f.source.server_id));
  put(source, "start", f.source.start.trim());
  put(source, "heartbeat_secs", number(f.source.heartbeat_secs));
  out.source = source;
  const filters: Record<string, any> = { ...(f.base.filters ?? {}) };
  put(filters, "include", list(f.include));
  put(filters, "exclude", list(f.exclude));
  put(filters, "include_columns", list(f.include_columns));
  put(filters, "exclude_columns", list(f.exclude_columns));
  const ops = (["c", "u", "d"] as const).filter((o) => f.ops[o]);
  put(filters, "ops", ops.length === 3 ? undefined : ops);
  put(filters, "ddl", f.ddl ? undefined : false);
  if (Object.keys(filters).length) out.filters = filters;
  else delete out.filters;
  out.sinks = f.sinks.map(sinkConfig);
  return out;
}

const SINK_FIELDS: Record<SinkType, string[]> = {
  file: ["type", "name", "path"],
  kafka: ["type", "name", "brokers", "topic", "format", "partition_by", "exactly_once", "properties"],
  redis: ["type", "name", "url", "mode", "key", "format", "ttl_secs", "tables"],
};

/// The field paths the form shows a control for: an error of another path is listed apart.
export function shownPaths(f: TaskForm): string[] {
  return [
    "name",
    "checkpoint_interval_ms",
    "queue_max_mib",
    "node_labels",
    "source.url",
    "source.server_id",
    "source.start",
    "source.heartbeat_secs",
    "filters.include",
    "filters.exclude",
    "filters.exclude_columns",
    "filters.include_columns",
    "filters.ops",
    ...f.sinks.flatMap((s, i) => SINK_FIELDS[s.type].map((k) => `sinks[${i}].${k}`)),
  ];
}
