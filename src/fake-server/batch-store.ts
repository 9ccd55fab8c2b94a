/**
 * The fake server's `/batches`: batches that move through validating -> in_progress -> finalizing ->
 * completed (or failed, expired, cancelling -> cancelled) on a scaled clock, as OpenAI's do in up to
 * 24 h. State is worked out when someone looks (`advance`), from the time elapsed: no timers, so a
 * batch nobody polls still completes on time and a test's clock is the only one there is.
 *
 * Each request of a batch is answered, when its turn comes, by the same responder as `POST
 * /responses`, so a batch answer is the answer the item would have had online. Requests run in a
 * shuffled order: output lines come back in any order, as the provider's do, and the part done
 * before an expiry or a cancel is a scattered subset, not the head of the file.
 */
import { BATCH_COMPLETION_WINDOW, BATCH_ENDPOINT, type BatchError, type BatchOutputLine, type BatchStatus, type ProviderBatch } from '../batch/types.js';
import { createRng } from './faults.js';
import type { FileStore } from './file-store.js';
import { digestInput } from './input.js';
import { errorForStatus } from './errors.js';
import type { BatchOptions } from './types.js';
import { inputTokens } from './usage.js';

/** How long the provider gives a batch (the `24h` window); only reported, the fake never waits it out. */
const WINDOW_S = 24 * 60 * 60;
/** Errors reported for a refused file; the provider also stops listing them at some point. */
const MAX_FILE_ERRORS = 100;
export const DEFAULT_MAX_REQUESTS = 50_000;
export const DEFAULT_MAX_FILE_BYTES = 200 * 1024 * 1024;

export const EXPIRED_ERROR = { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' };
export const CANCELLED_ERROR = { code: 'batch_cancelled', message: 'This request was not executed because the batch was cancelled.' };

export interface BatchAnswer {
  status: number;
  body: unknown;
}

export interface BatchStoreDeps {
  newId(prefix: string): string;
  files: FileStore;
  /** The online responder: what `POST /responses` would answer for this body. */
  answer(body: unknown): BatchAnswer;
  /** Called once per answered request (200 or not), in the order they are answered. */
  onAnswered(customId: string, status: number): void;
  /** Called once per input line of each batch that passed validation. */
  onSubmitted(customId: string): void;
}

/** The options a batch runs with, fixed when it is created. */
type BatchPlan = Required<Omit<BatchOptions, 'absent' | 'enqueuedTokenLimit' | 'maxFileBytes'>> & { enqueuedTokenLimit: number | null; seed: number };

interface InputRequest {
  customId: string;
  body: Record<string, unknown>;
}

interface BatchRecord {
  batch: ProviderBatch;
  plan: BatchPlan;
  /** When the current status began, ms. */
  phaseStartMs: number;
  /** Requests in the order they will be answered. */
  requests: InputRequest[];
  tokensByModel: Map<string, number>;
  /** Requests answered so far (a prefix of `requests`). */
  done: number;
  outputLines: string[];
  errorLines: string[];
  /** The batch's own PRNG (order and injected errors), so one batch's draws never shift another's. */
  random: () => number;
}

export function batchPlan(options: BatchOptions | undefined, seed: number): BatchPlan {
  const o = options ?? {};
  return {
    msPerRequest: o.msPerRequest ?? 1,
    validatingMs: o.validatingMs ?? 10,
    finalizingMs: o.finalizingMs ?? 10,
    cancellingMs: o.cancellingMs ?? 10,
    failValidation: o.failValidation ?? false,
    expireAfter: o.expireAfter ?? 1,
    cancelAfter: o.cancelAfter ?? 1,
    errorRate: o.errorRate ?? 0,
    errorStatus: o.errorStatus ?? 500,
    enqueuedTokenLimit: o.enqueuedTokenLimit ?? null,
    maxRequests: o.maxRequests ?? DEFAULT_MAX_REQUESTS,
    seed,
  };
}

/** Throws a RangeError naming the bad field; for the API, `/_options` and the CLI alike. */
export function checkBatchOptions(o: BatchOptions): void {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new RangeError('batch must be an object');
  for (const key of ['msPerRequest', 'validatingMs', 'finalizingMs', 'cancellingMs'] as const) {
    const v = o[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new RangeError(`batch.${key} must be a non-negative number`);
  }
  for (const key of ['expireAfter', 'cancelAfter', 'errorRate'] as const) {
    const v = o[key];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) throw new RangeError(`batch.${key} must be a number between 0 and 1`);
  }
  for (const key of ['absent', 'failValidation'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new RangeError(`batch.${key} must be true or false`);
  }
  if (o.errorStatus !== undefined && !(Number.isInteger(o.errorStatus) && o.errorStatus >= 400 && o.errorStatus <= 599)) {
    throw new RangeError('batch.errorStatus must be an HTTP status 400-599');
  }
  for (const key of ['enqueuedTokenLimit', 'maxRequests', 'maxFileBytes'] as const) {
    const v = o[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v > 0)) throw new RangeError(`batch.${key} must be a positive integer`);
  }
}

const LIVE: ReadonlySet<BatchStatus> = new Set(['in_progress', 'finalizing', 'cancelling']);

export class BatchStore {
  /** Newest last; listing walks it backwards. */
  private readonly records: BatchRecord[] = [];
  private readonly byId = new Map<string, BatchRecord>();
  private seedCounter = 0;

  constructor(private readonly deps: BatchStoreDeps) {}

  create(inputFileId: string, metadata: Record<string, string> | null, options: BatchOptions | undefined, seed: number, nowMs: number): ProviderBatch {
    const created = Math.floor(nowMs / 1000);
    const batch: ProviderBatch = {
      id: this.deps.newId('batch_'),
      object: 'batch',
      endpoint: BATCH_ENDPOINT,
      errors: null,
      input_file_id: inputFileId,
      completion_window: BATCH_COMPLETION_WINDOW,
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: created,
      in_progress_at: null,
      expires_at: created + WINDOW_S,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata,
    };
    const plan = batchPlan(options, seed + this.seedCounter++);
    const record: BatchRecord = {
      batch,
      plan,
      random: createRng(plan.seed),
      phaseStartMs: nowMs,
      requests: [],
      tokensByModel: new Map(),
      done: 0,
      outputLines: [],
      errorLines: [],
    };
    this.records.push(record);
    this.byId.set(batch.id, record);
    return view(batch);
  }

  get(id: string, nowMs: number): ProviderBatch | undefined {
    const record = this.byId.get(id);
    if (!record) return undefined;
    this.advance(record, nowMs);
    return view(record.batch);
  }

  /** Newest first, after the batch `after` when given (OpenAI's cursor). */
  list(after: string | undefined, limit: number, nowMs: number): { data: ProviderBatch[]; has_more: boolean } {
    this.advanceAll(nowMs);
    let end = this.records.length;
    if (after !== undefined) {
      const at = this.records.findIndex((r) => r.batch.id === after);
      end = at === -1 ? 0 : at;
    }
    const start = Math.max(0, end - limit);
    const data = this.records.slice(start, end).reverse().map((r) => view(r.batch));
    return { data, has_more: start > 0 };
  }

  /** Undefined: no such batch; `final`: the batch had already ended and is returned as it is. */
  cancel(id: string, nowMs: number): { batch: ProviderBatch; final: boolean } | undefined {
    const record = this.byId.get(id);
    if (!record) return undefined;
    this.advance(record, nowMs);
    const status = record.batch.status;
    if (status === 'validating' || status === 'in_progress' || status === 'finalizing') {
      this.enter(record, 'cancelling', nowMs);
      return { batch: view(record.batch), final: false };
    }
    return { batch: view(record.batch), final: status !== 'cancelling' };
  }

  advanceAll(nowMs: number): void {
    for (const record of this.records) this.advance(record, nowMs);
  }

  countByStatus(nowMs: number): Record<string, number> {
    this.advanceAll(nowMs);
    const counts: Record<string, number> = {};
    for (const r of this.records) counts[r.batch.status] = (counts[r.batch.status] ?? 0) + 1;
    return counts;
  }

  /** Brings a batch up to `nowMs`, one status at a time, each starting when the one before ended. */
  private advance(record: BatchRecord, nowMs: number): void {
    const { plan } = record;
    for (;;) {
      const { status } = record.batch;
      if (status === 'validating') {
        const endsAt = record.phaseStartMs + plan.validatingMs;
        if (nowMs < endsAt) return;
        this.validate(record, endsAt);
      } else if (status === 'in_progress') {
        if (!this.progress(record, nowMs)) return;
      } else if (status === 'finalizing') {
        const endsAt = record.phaseStartMs + plan.finalizingMs;
        if (nowMs < endsAt) return;
        this.finish(record, 'completed', endsAt, null);
      } else if (status === 'cancelling') {
        const endsAt = record.phaseStartMs + plan.cancellingMs;
        if (nowMs < endsAt) return;
        this.finish(record, 'cancelled', endsAt, CANCELLED_ERROR);
      } else {
        return;
      }
    }
  }

  /** Answers the requests whose time has come; true when the batch left `in_progress`. */
  private progress(record: BatchRecord, nowMs: number): boolean {
    const { plan, requests } = record;
    const total = requests.length;
    const expireAt = Math.floor(total * plan.expireAfter);
    const cancelAt = Math.floor(total * plan.cancelAfter);
    const stopAt = Math.min(total, expireAt, cancelAt);
    const due = plan.msPerRequest > 0 ? Math.floor((nowMs - record.phaseStartMs) / plan.msPerRequest) : total;
    const target = Math.min(stopAt, due);
    while (record.done < target) this.answerNext(record);
    if (record.done < stopAt) return false;
    const at = record.phaseStartMs + stopAt * plan.msPerRequest;
    if (stopAt === total) this.enter(record, 'finalizing', at);
    else if (expireAt <= cancelAt) this.finish(record, 'expired', at, EXPIRED_ERROR);
    else this.enter(record, 'cancelling', at);
    return true;
  }

  private answerNext(record: BatchRecord): void {
    const request = record.requests[record.done++]!;
    const { plan } = record;
    const injected = plan.errorRate > 0 && record.random() < plan.errorRate;
    const answer: BatchAnswer = injected ? { status: plan.errorStatus, body: errorForStatus(plan.errorStatus) } : this.deps.answer(request.body);
    const line: BatchOutputLine = {
      id: this.deps.newId('batch_req_'),
      custom_id: request.customId,
      response: { status_code: answer.status, request_id: this.deps.newId('req_'), body: answer.body },
      error: null,
    };
    (answer.status === 200 ? record.outputLines : record.errorLines).push(JSON.stringify(line));
    const counts = record.batch.request_counts!;
    if (answer.status === 200) counts.completed++;
    else counts.failed++;
    this.deps.onAnswered(request.customId, answer.status);
  }

  private validate(record: BatchRecord, atMs: number): void {
    const stored = this.deps.files.get(record.batch.input_file_id);
    const parsed = stored ? parseInputFile(stored.content, record.plan.maxRequests) : { requests: [], errors: [{ code: 'file_not_found', message: 'The input file no longer exists.', line: null, param: null }] };
    const errors = record.plan.failValidation ? [{ code: 'invalid_file', message: 'The input file failed validation.', line: null, param: null }, ...parsed.errors] : parsed.errors;
    if (errors.length > 0) return this.fail(record, errors, atMs);
    record.tokensByModel = tokensByModel(parsed.requests);
    const over = this.overTokenLimit(record);
    if (over) return this.fail(record, [over], atMs);
    record.requests = shuffled(parsed.requests, record.random);
    record.batch.request_counts = { total: record.requests.length, completed: 0, failed: 0 };
    for (const r of parsed.requests) this.deps.onSubmitted(r.customId);
    this.enter(record, 'in_progress', atMs);
  }

  /** OpenAI's enqueued-token quota: the input tokens of every batch not yet final count, per model. */
  private overTokenLimit(record: BatchRecord): BatchError | null {
    const limit = record.plan.enqueuedTokenLimit;
    if (limit === null) return null;
    for (const [model, tokens] of record.tokensByModel) {
      let enqueued = tokens;
      for (const other of this.records) if (other !== record && LIVE.has(other.batch.status)) enqueued += other.tokensByModel.get(model) ?? 0;
      if (enqueued > limit) {
        return {
          code: 'token_limit_exceeded',
          message: `Enqueued token limit reached for ${model} in organization org-fake. Limit: ${limit} enqueued tokens. Please try submitting an input file with fewer tokens, or wait for some of your in-progress batches to complete before submitting.`,
          param: null,
          line: null,
        };
      }
    }
    return null;
  }

  private fail(record: BatchRecord, errors: BatchError[], atMs: number): void {
    record.batch.errors = { object: 'list', data: errors.slice(0, MAX_FILE_ERRORS) };
    this.enter(record, 'failed', atMs);
  }

  /** Ends a batch: unanswered requests get `unanswered` lines in the error file; the files are written. */
  private finish(record: BatchRecord, status: 'completed' | 'expired' | 'cancelled', atMs: number, unanswered: { code: string; message: string } | null): void {
    if (unanswered) {
      for (const request of record.requests.slice(record.done)) {
        const line: BatchOutputLine = { id: this.deps.newId('batch_req_'), custom_id: request.customId, response: null, error: unanswered };
        record.errorLines.push(JSON.stringify(line));
      }
      record.batch.request_counts!.failed += record.requests.length - record.done;
    }
    const batchId = record.batch.id;
    record.batch.output_file_id = this.writeFile(record.outputLines, `${batchId}_output.jsonl`, atMs);
    record.batch.error_file_id = this.writeFile(record.errorLines, `${batchId}_error.jsonl`, atMs);
    record.outputLines = [];
    record.errorLines = [];
    this.enter(record, status, atMs);
  }

  private writeFile(lines: string[], filename: string, atMs: number): string | null {
    if (lines.length === 0) return null;
    return this.deps.files.add(Buffer.from(lines.join('\n') + '\n'), filename, 'batch_output', atMs).id;
  }

  private enter(record: BatchRecord, status: BatchStatus, atMs: number): void {
    record.batch.status = status;
    record.phaseStartMs = atMs;
    const at = Math.floor(atMs / 1000);
    const stamp = `${status}_at` as const;
    if (stamp !== 'validating_at') (record.batch as unknown as Record<string, number>)[stamp] = at;
  }
}

function view(batch: ProviderBatch): ProviderBatch {
  return structuredClone(batch);
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function tokensByModel(requests: readonly InputRequest[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const { body } of requests) {
    const model = typeof body.model === 'string' ? body.model : '';
    out.set(model, (out.get(model) ?? 0) + inputTokens(digestInput(body.instructions, body.input)));
  }
  return out;
}

/**
 * Reads a batch input file as the provider's validation does: every line a JSON object with a
 * unique `custom_id`, `method` POST, `url` the batch's endpoint and an object `body`. The bodies
 * themselves are checked later, per request, as `/responses` would check them.
 */
export function parseInputFile(content: Buffer, maxRequests: number): { requests: InputRequest[]; errors: BatchError[] } {
  const requests: InputRequest[] = [];
  const errors: BatchError[] = [];
  const seen = new Set<string>();
  const lines = content.toString('utf8').split('\n');
  lines.forEach((text, index) => {
    if (text.trim() === '') return;
    const line = index + 1;
    const error = (code: string, message: string, param: string | null = null) => errors.push({ code, message, param, line });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return error('invalid_json_line', 'This line is not parseable as valid JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return error('invalid_json_line', 'This line is not a JSON object.');
    const o = parsed as Record<string, unknown>;
    if (typeof o.custom_id !== 'string' || o.custom_id === '') return error('missing_required_parameter', 'Missing required parameter: custom_id.', 'custom_id');
    if (o.method !== 'POST') return error('invalid_method', 'The method of this request must be POST.', 'method');
    if (o.url !== BATCH_ENDPOINT) return error('invalid_url', 'The URL provided for this request does not match the batch endpoint.', 'url');
    if (typeof o.body !== 'object' || o.body === null || Array.isArray(o.body)) return error('missing_required_parameter', 'Missing required parameter: body.', 'body');
    if (seen.has(o.custom_id)) return error('duplicate_custom_id', `The custom_id ${JSON.stringify(o.custom_id)} is used by more than one request.`, 'custom_id');
    seen.add(o.custom_id);
    requests.push({ customId: o.custom_id, body: o.body as Record<string, unknown> });
  });
  if (requests.length === 0 && errors.length === 0) errors.push({ code: 'empty_file', message: 'The input file has no requests.', param: null, line: null });
  if (requests.length > maxRequests) {
    errors.push({ code: 'too_many_requests', message: `The input file has ${requests.length} requests; the limit is ${maxRequests}.`, param: null, line: null });
  }
  return { requests, errors };
}
