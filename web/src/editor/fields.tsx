// Labelled form controls that show the server's field errors right under themselves, tied to
// the control by aria-describedby so a screen reader reads the error with the field.
import type { ComponentChildren } from "preact";
import type { FieldError } from "../api";

/// The errors of `path` or of anything inside it (`sinks[0]` holds `sinks[0].topic`).
export function errorsAt(errors: FieldError[], path: string): FieldError[] {
  return errors.filter((e) => e.field === path || e.field.startsWith(`${path}.`) || e.field.startsWith(`${path}[`));
}

const idOf = (path: string) => `field-${path.replace(/[^a-zA-Z0-9]+/g, "-")}`;

interface Common {
  label: string;
  path: string;
  errors: FieldError[];
  hint?: string;
}

function Wrap(props: Common & { children: ComponentChildren; wide?: boolean }) {
  const mine = errorsAt(props.errors, props.path);
  return (
    <div class={`field ${props.wide ? "field-wide" : ""} ${mine.length ? "field-invalid" : ""}`} data-field={props.path}>
      <label for={idOf(props.path)}>{props.label}</label>
      {props.children}
      {props.hint ? <p class="hint" id={`${idOf(props.path)}-hint`}>{props.hint}</p> : null}
      {mine.length ? (
        <p class="field-error" id={`${idOf(props.path)}-error`} role="alert">
          {mine.map((e) => (e.field === props.path ? e.message : `${e.field}: ${e.message}`)).join("; ")}
        </p>
      ) : null}
    </div>
  );
}

function described(props: Common): Record<string, string | boolean> {
  const id = idOf(props.path);
  const ids = [props.hint ? `${id}-hint` : "", errorsAt(props.errors, props.path).length ? `${id}-error` : ""].filter(Boolean);
  return { id, "aria-invalid": ids.some((i) => i.endsWith("-error")), ...(ids.length ? { "aria-describedby": ids.join(" ") } : {}) };
}

export function TextField(props: Common & { value: string; onInput: (v: string) => void; placeholder?: string; type?: string; wide?: boolean }) {
  return (
    <Wrap {...props}>
      <input
        {...described(props)}
        name={props.path}
        type={props.type ?? "text"}
        value={props.value}
        placeholder={props.placeholder}
        autocomplete="off"
        spellcheck={false}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
    </Wrap>
  );
}

export function LinesField(props: Common & { value: string; onInput: (v: string) => void; placeholder?: string }) {
  return (
    <Wrap {...props} wide>
      <textarea
        {...described(props)}
        name={props.path}
        rows={2}
        value={props.value}
        placeholder={props.placeholder}
        spellcheck={false}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
    </Wrap>
  );
}

export function SelectField(props: Common & { value: string; onChange: (v: string) => void; options: [string, string][] }) {
  return (
    <Wrap {...props}>
      <select {...described(props)} name={props.path} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </Wrap>
  );
}

export function CheckField(props: { label: string; checked: boolean; onChange: (v: boolean) => void; name: string }) {
  return (
    <label class="check">
      <input type="checkbox" name={props.name} checked={props.checked} onChange={(e) => props.onChange(e.currentTarget.checked)} />
      {props.label}
    </label>
  );
}
