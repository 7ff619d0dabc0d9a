// The task editor: a new task, or a stored one's config, as a form. Field errors from the
// server show beside their fields as you type (only for fields already touched, so a blank new
// form is not all red) and all of them after a refused save. "Test connection" tries the
// source and every sink; "Preview events" shows what the task would deliver, before saving.
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, errorText, type FieldError, get, post } from "../api";
import { Link } from "../components/Link";
import { Notice } from "../components/Notice";
import { Preview } from "../components/Preview";
import { type CheckResult, ConnectionResult } from "../editor/ConnectionResult";
import { CheckField, errorsAt, LinesField, SelectField, TextField } from "../editor/fields";
import { emptyForm, fromConfig, newSink, shownPaths, type TaskForm, toConfig } from "../editor/model";
import { SinkFields } from "../editor/SinkFields";
import { useValidation } from "../editor/useValidation";
import { navigate } from "../router";
import type { TaskView } from "../types";

interface ConnectionReport {
  source: CheckResult;
  sinks: (CheckResult & { name: string; kind: string })[];
}

/// `name`: the stored task being edited; none for a new task.
export function TaskEditor({ name }: { name?: string }) {
  const [form, setForm] = useState<TaskForm | null>(name ? null : emptyForm());
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [showAll, setShowAll] = useState(false);
  const [notice, setNotice] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  const [report, setReport] = useState<ConnectionReport | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  useEffect(() => {
    if (name) get<TaskView>(`/tasks/${encodeURIComponent(name)}`).then((t) => setForm(fromConfig(t.config)), (e) => setNotice({ tone: "error", text: errorText(e) }));
  }, [name]);
  const config = form ? toConfig(form) : null;
  const validation = useValidation(config, name);

  if (!form || !config) {
    return <main>{notice ? <Notice tone="error">{notice.text}</Notice> : <p class="muted">Loading…</p>}</main>;
  }

  const shown: FieldError[] = validation.errors.filter((e) => showAll || [...touched].some((t) => errorsAt([e], t).length || e.field === t));
  const paths = shownPaths(form);
  const placed = (e: FieldError) => e.field === "sinks" || paths.some((p) => errorsAt([e], p).length > 0);
  const update = (path: string, next: TaskForm) => {
    setTouched((t) => (t.has(path) ? t : new Set(t).add(path)));
    setForm(next);
  };
  const field = <K extends keyof TaskForm>(key: K, path = key as string) => (value: TaskForm[K]) => update(path, { ...form, [key]: value });
  const source = (key: keyof TaskForm["source"]) => (value: string) => update(`source.${key}`, { ...form, source: { ...form.source, [key]: value } });
  const query = name ? `?task=${encodeURIComponent(name)}` : "";

  async function run(what: string, call: () => Promise<void>) {
    setBusy(what);
    setNotice(null);
    try {
      await call();
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) {
        validation.setErrors(e.fields);
        setShowAll(true);
        setNotice({ tone: "error", text: `${what}: the config has ${e.fields.length} problem(s), shown beside their fields.` });
      } else setNotice({ tone: "error", text: `${what}: ${errorText(e)}` });
    } finally {
      setBusy(null);
    }
  }

  const save = (e: Event) => {
    e.preventDefault();
    run("Save", async () => {
      const saved = name ? await api<TaskView>("PUT", `/tasks/${encodeURIComponent(name)}`, config) : await post<TaskView>("/tasks", config);
      navigate(`/tasks/${encodeURIComponent(saved.name)}`);
    });
  };
  const test = () =>
    run("Test connection", async () => {
      setReport(await post<ConnectionReport>(`/connections/test${query}`, config));
    });

  const unplaced = shown.filter((e) => !placed(e));
  return (
    <main>
      <div class="page-head">
        <div>
          <p class="crumbs">
            <Link href="/">Tasks</Link> /{name ? <Link href={`/tasks/${encodeURIComponent(name)}`}> {name} /</Link> : null}
          </p>
          <h1>{name ? `Edit ${name}` : "New task"}</h1>
        </div>
        <span class="muted" aria-live="polite">
          {validation.checking ? "checking…" : validation.errors.length ? `${validation.errors.length} problem(s)` : "config valid"}
        </span>
      </div>
      <form class="editor" onSubmit={save} noValidate aria-label="Task config">
        <section class="card" aria-labelledby="task-title">
          <h2 id="task-title">Task</h2>
          <div class="grid">
            <TextField label="Task name" path="name" errors={shown} value={form.name} onInput={field("name")} placeholder="orders" hint={name ? "A task cannot be renamed" : "Letters, digits, - _ ."} />
            <TextField label="Checkpoint interval (ms)" path="checkpoint_interval_ms" errors={shown} value={form.checkpoint_interval_ms} onInput={field("checkpoint_interval_ms")} placeholder="1000" />
            <TextField label="Queue limit (MiB)" path="queue_max_mib" errors={shown} value={form.queue_max_mib} onInput={field("queue_max_mib")} placeholder="16" />
            <TextField label="Node labels" path="node_labels" errors={shown} value={form.node_labels} onInput={field("node_labels")} placeholder="eu, ssd" hint="Run only on nodes with all these labels" />
          </div>
        </section>

        <section class="card" aria-labelledby="source-title">
          <h2 id="source-title">Source</h2>
          <div class="grid">
            <TextField label="Source URL" path="source.url" errors={shown} value={form.source.url} onInput={source("url")} placeholder="mysql://user:password@db:3306" wide />
            <TextField label="Server ID" path="source.server_id" errors={shown} value={form.source.server_id} onInput={source("server_id")} placeholder="4001001" hint="Unique among the server's replicas" />
            <TextField label="Start" path="source.start" errors={shown} value={form.source.start} onInput={source("start")} placeholder="current" hint="current, earliest, FILE:POS or gtid:SET" />
            <TextField label="Heartbeat (s)" path="source.heartbeat_secs" errors={shown} value={form.source.heartbeat_secs} onInput={source("heartbeat_secs")} placeholder="5" />
          </div>
          <ConnectionResult label="Source" result={report?.source} />
        </section>

        <section class="card" aria-labelledby="filters-title">
          <h2 id="filters-title">Filters</h2>
          <div class="grid">
            <LinesField label="Include tables" path="filters.include" errors={shown} value={form.include} onInput={field("include", "filters.include")} placeholder="shop\.orders" hint="db.table patterns, one a line; empty: every table" />
            <LinesField label="Exclude tables" path="filters.exclude" errors={shown} value={form.exclude} onInput={field("exclude", "filters.exclude")} placeholder="shop\.audit_.*" />
            <LinesField label="Exclude columns" path="filters.exclude_columns" errors={shown} value={form.exclude_columns} onInput={field("exclude_columns", "filters.exclude_columns")} placeholder="shop\.users\.password_hash" />
            <LinesField label="Include columns" path="filters.include_columns" errors={shown} value={form.include_columns} onInput={field("include_columns", "filters.include_columns")} placeholder="shop\.orders\..*" />
            <div class="field" data-field="filters.ops">
              <span class="label">Operations</span>
              <div class="checks" role="group" aria-label="Operations">
                <CheckField name="ops-c" label="insert" checked={form.ops.c} onChange={(v) => update("filters.ops", { ...form, ops: { ...form.ops, c: v } })} />
                <CheckField name="ops-u" label="update" checked={form.ops.u} onChange={(v) => update("filters.ops", { ...form, ops: { ...form.ops, u: v } })} />
                <CheckField name="ops-d" label="delete" checked={form.ops.d} onChange={(v) => update("filters.ops", { ...form, ops: { ...form.ops, d: v } })} />
                <CheckField name="ddl" label="DDL" checked={form.ddl} onChange={(v) => update("filters.ddl", { ...form, ddl: v })} />
              </div>
              {errorsAt(shown, "filters.ops").length ? <p class="field-error" role="alert">{errorsAt(shown, "filters.ops").map((e) => e.message).join("; ")}</p> : null}
            </div>
          </div>
        </section>

        <section class="card" aria-labelledby="sinks-title" data-field="sinks">
          <div class="section-head">
            <h2 id="sinks-title">Sinks and routing</h2>
            <SelectField
              label="Add a sink"
              path="add-sink"
              errors={[]}
              value=""
              onChange={(type) => type && update("sinks", { ...form, sinks: [...form.sinks, newSink(type as "file")] })}
              options={[
                ["", "Add a sink…"],
                ["file", "file"],
                ["kafka", "Kafka"],
                ["redis", "Redis"],
              ]}
            />
          </div>
          {form.sinks.map((s, i) => (
            <SinkFields
              key={i}
              index={i}
              sink={s}
              errors={shown}
              check={report?.sinks[i]}
              onChange={(next) => {
                const sinks = form.sinks.slice();
                sinks[i] = next;
                const changed = (Object.keys(next) as (keyof typeof next)[]).find((k) => next[k] !== s[k]);
                update(`sinks[${i}].${changed === "redis_format" ? "format" : changed ?? "type"}`, { ...form, sinks });
              }}
              onRemove={form.sinks.length > 1 ? () => update("sinks", { ...form, sinks: form.sinks.filter((_, j) => j !== i) }) : undefined}
            />
          ))}
          {errorsAt(shown, "sinks").filter((e) => e.field === "sinks").map((e) => (
            <p class="field-error" role="alert" key={e.message}>
              {e.message}
            </p>
          ))}
        </section>

        {unplaced.length ? (
          <Notice tone="error" title="Other problems">
            {unplaced.map((e) => `${e.field}: ${e.message}`).join("; ")}
          </Notice>
        ) : null}
        {notice ? <Notice tone={notice.tone}>{notice.text}</Notice> : null}
        <div class="actions sticky-actions">
          <button type="button" onClick={test} disabled={!!busy}>
            {busy === "Test connection" ? "Testing…" : "Test connection"}
          </button>
          <button type="submit" class="primary" disabled={!!busy}>
            {busy === "Save" ? "Saving…" : name ? "Save revision" : "Create task"}
          </button>
        </div>
      </form>
      <Preview task={name} config={() => config} />
    </main>
  );
}
