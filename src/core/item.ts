/**
 * The shapes that flow through every stage: readers produce `ReadOutcome`s, the producer turns them into
 * `JobData` (what is stored in Redis), workers turn a job into an `OutputLine` (see ./output-line.ts).
 */

/** Where an item came from: a line of a CSV/JSONL file (1-based), or an image file. */
export type SourceRef = { file: string; line: number } | { path: string };

/**
 * What an image file was when it was enqueued, so that the worker sends that file and no other (one
 * swapped for a link to another file, or replaced, is refused). `ino` and `dev` only mean something on
 * the machine named `host`; elsewhere (shared storage) size and mtime are compared.
 */
export interface FileFingerprint {
  size: number;
  /** Whole milliseconds. */
  mtime: number;
  ino: number;
  dev: number;
  host: string;
}

/**
 * An image attached to an item. Files are stored as absolute real paths (links resolved at enqueue),
 * never as bytes; `seen` is absent only in jobs queued by an earlier version.
 */
export type ImageRef = { kind: 'file'; path: string; seen?: FileFingerprint } | { kind: 'url'; url: string };

/**
 * What to send for one item. Run-wide settings (model, instructions, parameters) live in the run's
 * settings, not here, so that Redis holds them once per run instead of once per item.
 * - `prompt`: a rendered template, sent as one user message with the images after the text.
 * - `input`: a JSONL line's own `input` (string or OpenResponses input items), sent as given.
 * - `body`: an OpenAI-Batch-style line's `body`, sent as it is (run settings are not merged in).
 */
export type ItemRequest =
  | { kind: 'prompt'; text: string; images: ImageRef[] }
  | { kind: 'input'; input: unknown; images: ImageRef[] }
  | { kind: 'body'; body: Record<string, unknown> };

export interface Item {
  customId: string;
  source: SourceRef;
  request: ItemRequest;
}

/** Bad input: it still ends as exactly one `rejected` line. */
export interface Rejection {
  customId: string;
  source: SourceRef;
  reason: string;
}

export type ReadOutcome = { type: 'item'; item: Item } | { type: 'rejected'; rejection: Rejection };

/** The data of one BullMQ job. Never holds secrets or image bytes. */
export type JobData =
  | { type: 'item'; run: string; customId: string; source: SourceRef; request: ItemRequest }
  | { type: 'rejected'; run: string; customId: string; source: SourceRef; reason: string };

export function describeSource(source: SourceRef): string {
  return 'path' in source ? source.path : `${source.file}:${source.line}`;
}
