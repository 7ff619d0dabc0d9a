// The shapes the API answers with (see manager/src/api/openapi.json).

export interface SinkStatus {
  name: string;
  state: string;
  last_error?: string | null;
}

export interface TaskStatus {
  state: string;
  node?: string | null;
  revision?: number;
  lag_ms?: number | null;
  events_per_sec?: number | null;
  events_total?: number | null;
  sinks?: SinkStatus[];
  last_error?: string | null;
  at_ms?: number;
  snapshot?: SnapshotStatus | null;
}

/** The snapshot a task is taking, as its owner reports it. */
export interface SnapshotStatus {
  request?: number | null;
  table: string;
  tables_done: number;
  tables_total: number;
  rows: number;
}

export interface SnapshotRequest {
  id: number;
  tables: string[];
  requested_at_ms?: number;
  requested_by?: string;
}

export interface CoordinatorView {
  name?: string;
  published?: { revision: number; config: any } | null;
  desired?: string | null;
  owner?: { node: string; epoch: number; since_ms?: number } | null;
  checkpoint?: { position?: any; at_ms?: number } | null;
  status?: TaskStatus | null;
  snapshot_request?: SnapshotRequest | null;
  snapshot_taken?: number | null;
}

export interface TaskSnapshot {
  name: string;
  revision: number;
  published_revision: number;
  desired: string;
  coordinator?: CoordinatorView | null;
}

export interface NodeInfo {
  id: string;
  addr?: string;
  version?: string;
  labels?: string[];
  started_at_ms?: number;
  [more: string]: unknown;
}

export interface Snapshot {
  at_ms: number;
  tasks: TaskSnapshot[];
  nodes: NodeInfo[];
}

export interface TaskView {
  name: string;
  revision: number;
  published_revision: number;
  desired: string;
  config: any;
  created_at_ms: number;
  updated_at_ms: number;
  publish_error?: string;
}

export interface Revision {
  task: string;
  revision: number;
  author: string;
  created_at_ms: number;
  config?: any;
}

export interface AuditEntry {
  actor: string;
  action: string;
  task?: string | null;
  summary: string;
  at_ms: number;
  [more: string]: unknown;
}

/// What the UI shows as a task's state: the owner's report, or why there is none.
export function shownState(t: TaskSnapshot): string {
  const status = t.coordinator?.status;
  if (t.desired === "paused") return t.coordinator?.owner ? "pausing" : "paused";
  if (!t.coordinator?.owner) return "unassigned";
  return status?.state ?? "starting";
}

export function ownerOf(t: TaskSnapshot): string | null {
  return t.coordinator?.owner?.node ?? null;
}
