// A message box: an error where it happened, or the outcome of an action.
import type { ComponentChildren } from "preact";

export function Notice(props: { tone: "error" | "ok" | "info"; title?: string; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${props.tone}`} role={props.tone === "error" ? "alert" : "status"}>
      {props.title ? <strong>{props.title}: </strong> : null}
      {props.children}
    </div>
  );
}
