// The manager's REST API under /api/v1: JSON in and out, the bearer token on every call, and
// its two error shapes turned into one error type (field errors kept by field for the editor).
import { saveSession, session } from "./session";

export interface FieldError {
  field: string;
  value: string | null;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message);
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const token = session.get()?.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (response.ok) return json as T;
  // An expired token: back to the login page rather than a page of errors.
  if (response.status === 401 && token) saveSession(null);
  if (json?.errors) {
    const fields = json.errors as FieldError[];
    throw new ApiError(response.status, fields.map((e) => `${e.field}: ${e.message}`).join("; "), fields);
  }
  throw new ApiError(response.status, json?.error ?? (text || `HTTP ${response.status}`));
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body);

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
