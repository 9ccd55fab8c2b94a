/**
 * Run-wide request parameters, resolved from the run's configuration. Stored once per run, not per
 * item (see ItemRequest in ../core/item.ts). Field names follow `CreateResponseBody` so that they can be
 * copied into the request as they are.
 */
export interface RequestSettings {
  model: string;
  instructions?: string;
  temperature?: number;
  top_p?: number;
  /** The spec requires at least 16. */
  max_output_tokens?: number;
  reasoning?: { effort?: string; summary?: string };
  text?: { format?: Record<string, unknown>; verbosity?: string };
  /** At most 16 string values of at most 512 chars (spec). */
  metadata?: Record<string, string>;
  /** Sent as false unless set: the spec has no endpoint to read a stored response back. */
  store?: boolean;
  service_tier?: string;
  /** `detail` of every `input_image` part. */
  detail: 'auto' | 'low' | 'high';
}
