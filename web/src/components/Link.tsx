// An in-app link: a real <a href> (so it can be opened in a tab) that navigates without a load.
import type { ComponentChildren } from "preact";
import { linkClick } from "../router";

export function Link(props: { href: string; class?: string; children: ComponentChildren; "aria-current"?: "page" }) {
  return (
    <a href={props.href} class={props.class} aria-current={props["aria-current"]} onClick={linkClick}>
      {props.children}
    </a>
  );
}
