// One sink of the editor: its type, name and the fields of that type, with the outcome of its
// last connection test.
import type { FieldError } from "../api";
import { CheckField, LinesField, SelectField, TextField } from "./fields";
import type { SinkForm, SinkType } from "./model";
import type { CheckResult } from "./ConnectionResult";
import { ConnectionResult } from "./ConnectionResult";

export function SinkFields(props: {
  index: number;
  sink: SinkForm;
  errors: FieldError[];
  check?: CheckResult;
  onChange: (next: SinkForm) => void;
  onRemove?: () => void;
}) {
  const { sink, errors, index } = props;
  const at = (field: string) => `sinks[${index}].${field}`;
  const set = <K extends keyof SinkForm>(key: K) => (value: SinkForm[K]) => props.onChange({ ...sink, [key]: value });
  const title = sink.name || sink.type;
  return (
    <fieldset class="sink" aria-label={`Sink ${index + 1}: ${title}`}>
      <legend>
        Sink {index + 1}: {title}
      </legend>
      <div class="grid">
        <SelectField
          label="Type"
          path={at("type")}
          errors={errors}
          value={sink.type}
          onChange={(v) => props.onChange({ ...sink, type: v as SinkType })}
          options={[
            ["file", "file (JSON lines)"],
            ["kafka", "Kafka"],
            ["redis", "Redis"],
          ]}
        />
        <TextField label="Sink name" path={at("name")} errors={errors} value={sink.name} onInput={set("name")} placeholder={sink.type} hint="Unique in the task; default: the type" />
        {sink.type === "file" ? (
          <TextField label="File path" path={at("path")} errors={errors} value={sink.path} onInput={set("path")} placeholder="/var/lib/sluice/orders.jsonl or -" wide />
        ) : null}
        {sink.type === "kafka" ? (
          <>
            <TextField label="Brokers" path={at("brokers")} errors={errors} value={sink.brokers} onInput={set("brokers")} placeholder="kafka1:9092,kafka2:9092" />
            <TextField label="Topic" path={at("topic")} errors={errors} value={sink.topic} onInput={set("topic")} placeholder="cdc.{db}.{table}" hint="A name, or a template with {db} and {table}" />
            <SelectField
              label="Format"
              path={at("format")}
              errors={errors}
              value={sink.format}
              onChange={set("format")}
              options={[
                ["", "sluice (default)"],
                ["canal-json", "canal-json"],
                ["debezium-json", "debezium-json"],
                ["maxwell-json", "maxwell-json"],
              ]}
            />
            <SelectField
              label="Partition by"
              path={at("partition_by")}
              errors={errors}
              value={sink.partition_by}
              onChange={set("partition_by")}
              options={[
                ["", "key (default)"],
                ["table", "table"],
                ["single", "single"],
              ]}
            />
            <CheckField name={at("exactly_once")} label="Exactly once (Kafka transactions)" checked={sink.exactly_once} onChange={set("exactly_once")} />
            <LinesField label="librdkafka properties" path={at("properties")} errors={errors} value={sink.properties} onInput={set("properties")} placeholder="compression.type=zstd" hint="One name=value a line" />
          </>
        ) : null}
        {sink.type === "redis" ? (
          <>
            <TextField label="Redis URL" path={at("url")} errors={errors} value={sink.url} onInput={set("url")} placeholder="redis://127.0.0.1:6379/0" />
            <SelectField
              label="Mode"
              path={at("mode")}
              errors={errors}
              value={sink.mode}
              onChange={set("mode")}
              options={[
                ["", "invalidate (default)"],
                ["sync", "sync"],
              ]}
            />
            <TextField label="Key template" path={at("key")} errors={errors} value={sink.key} onInput={set("key")} placeholder="{db}:{table}:{pk}" />
            <SelectField
              label="Value format"
              path={at("format")}
              errors={errors}
              value={sink.redis_format}
              onChange={set("redis_format")}
              options={[
                ["", "json (default)"],
                ["hash", "hash"],
              ]}
            />
            <TextField label="TTL (seconds)" path={at("ttl_secs")} errors={errors} value={sink.ttl_secs} onInput={set("ttl_secs")} placeholder="0" />
            <LinesField label="Tables (routing)" path={at("tables")} errors={errors} value={sink.tables} onInput={set("tables")} placeholder="shop\.users" hint="db.table patterns this sink handles, one a line; empty: all" />
          </>
        ) : null}
      </div>
      <ConnectionResult label={`Sink ${title}`} result={props.check} />
      {props.onRemove ? (
        <button type="button" class="ghost danger-text" onClick={props.onRemove} aria-label={`Remove sink ${index + 1}`}>
          Remove sink
        </button>
      ) : null}
    </fieldset>
  );
}
