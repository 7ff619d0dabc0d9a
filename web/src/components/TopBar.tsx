// The bar on every page: where you are, who you are, and whether the live stream is up.
import { useSignal } from "../signal";
import { path } from "../router";
import { saveSession, session } from "../session";
import { connected, stopStream } from "../stream";
import { Link } from "./Link";

const SECTIONS = [
  { href: "/", label: "Tasks", match: (p: string) => p === "/" || p.startsWith("/tasks") },
  { href: "/nodes", label: "Nodes", match: (p: string) => p.startsWith("/nodes") },
  { href: "/history", label: "History", match: (p: string) => p.startsWith("/history") },
];

export function TopBar() {
  const current = useSignal(path);
  const user = useSignal(session);
  const live = useSignal(connected);
  return (
    <header class="topbar">
      <Link href="/" class="brand">
        Sluice
      </Link>
      <nav aria-label="Main">
        {SECTIONS.map((s) => (
          <Link key={s.href} href={s.href} aria-current={s.match(current.split("?")[0]) ? "page" : undefined}>
            {s.label}
          </Link>
        ))}
      </nav>
      <div class="topbar-end">
        <span class={`live ${live ? "live-on" : ""}`} role="status" aria-label={live ? "Live updates on" : "Live updates reconnecting"}>
          {live ? "live" : "offline"}
        </span>
        {user ? (
          <span class="who">
            {user.user} <span class="role">{user.role}</span>
          </span>
        ) : null}
        <button
          type="button"
          class="ghost"
          onClick={() => {
            stopStream();
            saveSession(null);
          }}
        >
          Log out
        </button>
      </div>
    </header>
  );
}
