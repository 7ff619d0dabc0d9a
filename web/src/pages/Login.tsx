// The login form: POST /api/v1/login, then the session (token and role) is kept.
import { useState } from "preact/hooks";
import { ApiError, errorText, post } from "../api";
import { Notice } from "../components/Notice";
import { saveSession, type Session } from "../session";

export function Login() {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      saveSession(await post<Session>("/login", { user, password }));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "Wrong user name or password." : errorText(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sluice</h1>
        <p class="muted">Log in to the manager.</p>
        <label>
          User
          <input name="user" autocomplete="username" required value={user} onInput={(e) => setUser(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error ? <Notice tone="error">{error}</Notice> : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
