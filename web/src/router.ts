// Client-side routes on real paths (the manager answers index.html for every non-API path,
// so a reload or a shared link opens the same page).
import { signal } from "./signal";

export const path = signal<string>(location.pathname + location.search);

export function navigate(to: string) {
  if (to === path.get()) return;
  history.pushState(null, "", to);
  path.set(to);
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => path.set(location.pathname + location.search));

/// Handles a click on an in-app link without a page load (a modified click opens a tab).
export function linkClick(e: MouseEvent) {
  const a = (e.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute("href") ?? "/");
}
