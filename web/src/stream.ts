// The live view: GET /api/v1/stream, Server-Sent Events read with fetch() so that the bearer
// token goes in a header (EventSource cannot send one). Each `snapshot` event replaces the
// current snapshot and adds a point to every task's lag and throughput history. The stream is
// reopened with a growing delay when it ends or fails.
import { session } from "./session";
import { signal } from "./signal";
import type { Snapshot } from "./types";

export interface Point {
  at_ms: number;
  lag_ms: number | null;
  events_per_sec: number | null;
  events_total: number | null;
}

/// At most this many points per task: 30 minutes at one snapshot a second.
const HISTORY_POINTS = 1800;

export const snapshot = signal<Snapshot | null>(null);
export const connected = signal<boolean>(false);
export const history = new Map<string, Point[]>();

function record(s: Snapshot) {
  for (const t of s.tasks) {
    const status = t.coordinator?.status;
    const points = history.get(t.name) ?? [];
    points.push({
      at_ms: s.at_ms,
      lag_ms: status?.lag_ms ?? null,
      events_per_sec: status?.events_per_sec ?? null,
      events_total: status?.events_total ?? null,
    });
    if (points.length > HISTORY_POINTS) points.splice(0, points.length - HISTORY_POINTS);
    history.set(t.name, points);
  }
  snapshot.set(s);
}

/// Splits an SSE byte stream into events; calls `onEvent` for each complete one.
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: string, data: string) => void) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // a keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) onEvent(event, data.join("\n"));
    }
  }
}

let running: AbortController | null = null;

/// Opens the stream (once) for the logged-in user; `stopStream` closes it at logout.
export function startStream() {
  if (running) return;
  const abort = new AbortController();
  running = abort;
  (async () => {
    let delay = 500;
    while (!abort.signal.aborted) {
      const token = session.get()?.token;
      if (!token) break;
      try {
        const response = await fetch("/api/v1/stream", {
          headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
          signal: abort.signal,
        });
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        connected.set(true);
        delay = 500;
        await readEvents(response.body, (event, data) => {
          if (event === "snapshot") record(JSON.parse(data) as Snapshot);
        });
      } catch {
        // Reopened below; the top bar shows the stream as disconnected meanwhile.
      }
      connected.set(false);
      if (abort.signal.aborted) break;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  })();
}

export function stopStream() {
  running?.abort();
  running = null;
  snapshot.set(null);
  history.clear();
}
