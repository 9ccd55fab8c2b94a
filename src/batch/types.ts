/**
 * The provider Batch API's shapes (OpenAI `/v1/files` and `/v1/batches`), as respool sends and reads
 * them. Only the fields respool uses are required; the rest are kept as the provider sends them.
 */

/** `GET /files/{id}`, `POST /files`. */
export interface ProviderFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  expires_at?: number | null;
}

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** Statuses after which a batch changes no more: its output and error files are final. */
export const FINAL_BATCH_STATUSES: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled']);

export interface BatchError {
  code?: string | null;
  message?: string | null;
  param?: string | null;
  line?: number | null;
}

/** `POST /batches`, `GET /batches/{id}`, `POST /batches/{id}/cancel`. */
export interface ProviderBatch {
  id: string;
  object: 'batch';
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id?: string | null;
  error_file_id?: string | null;
  errors?: { object: 'list'; data: BatchError[] } | null;
  created_at: number;
  in_progress_at?: number | null;
  expires_at?: number | null;
  finalizing_at?: number | null;
  completed_at?: number | null;
  failed_at?: number | null;
  expired_at?: number | null;
  cancelling_at?: number | null;
  cancelled_at?: number | null;
  request_counts?: { total: number; completed: number; failed: number } | null;
  metadata?: Record<string, string> | null;
}

/** One line of a batch input file: `custom_id` is the item's job id, `body` the request `online` would send. */
export interface BatchInputLine {
  custom_id: string;
  method: 'POST';
  url: '/v1/responses';
  body: Record<string, unknown>;
}

/** One line of a batch output or error file. */
export interface BatchOutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id?: string; body: unknown } | null;
  error: { code?: string | null; message?: string | null } | null;
}

/** The endpoint and window respool submits every batch with. */
export const BATCH_ENDPOINT = '/v1/responses';
export const BATCH_COMPLETION_WINDOW = '24h';
