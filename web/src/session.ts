// Who is logged in: the bearer token from POST /api/v1/login and the user's role, kept in
// localStorage so that a reload or a second tab stays logged in until the token expires.
import { signal } from "./signal";

export type Role = "admin" | "viewer";

export interface Session {
  token: string;
  user: string;
  role: Role;
  expires_at_ms: number;
}

const KEY = "sluice.session";

function load(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? "null") as Session | null;
    return s && s.expires_at_ms > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export const session = signal<Session | null>(load());

export function saveSession(s: Session | null) {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
  session.set(s);
}

export function isAdmin(): boolean {
  return session.get()?.role === "admin";
}
