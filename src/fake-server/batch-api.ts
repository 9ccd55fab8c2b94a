/**
 * HTTP routes of the fake server's Files and Batches API, in the shapes of OpenAI's `/v1/files` and
 * `/v1/batches`: upload (multipart), get, download, delete a file; create, get, list, cancel a batch.
 * What a batch does over time lives in ./batch-store.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BATCH_COMPLETION_WINDOW, BATCH_ENDPOINT, type ProviderBatch } from '../batch/types.js';
import { BatchStore, DEFAULT_MAX_FILE_BYTES, type BatchAnswer } from './batch-store.js';
import { errorBody, type ErrorBody } from './errors.js';
import { FileStore } from './file-store.js';
import type { BatchOptions, BatchStats } from './types.js';

/** Room for the multipart framing around the largest file allowed. */
const MULTIPART_OVERHEAD = 64 * 1024;
const FILE_PURPOSES = new Set(['batch', 'assistants', 'fine-tune', 'vision', 'user_data', 'evals']);
const MAX_METADATA_KEYS = 16;
const DEFAULT_LIST_LIMIT = 20;
const MAX_LIST_LIMIT = 100;

export interface BatchApiDeps {
  newId(prefix: string): string;
  /** The options in force now (a batch copies them when it is created). */
  options(): BatchOptions | undefined;
  seed(): number;
  /** Null when the call may go on; else the 401 the caller gets. */
  refuseAuth(req: IncomingMessage): ErrorBody | null;
  answer(body: unknown): BatchAnswer;
  onBilled(customId: string): void;
}

type Send = (res: ServerResponse, status: number, payload: unknown) => void;

export class BatchApi {
  private readonly files: FileStore;
  private readonly batches: BatchStore;
  private counters = { filesUploaded: 0, batchesCreated: 0, requestsAnswered: 0 };
  private submitted = new Map<string, number>();

  constructor(
    private readonly deps: BatchApiDeps,
    private readonly send: Send,
  ) {
    this.files = new FileStore(deps.newId);
    this.batches = new BatchStore({
      newId: deps.newId,
      files: this.files,
      answer: deps.answer,
      onAnswered: (customId, status) => {
        this.counters.requestsAnswered++;
        if (status === 200) deps.onBilled(customId);
      },
      onSubmitted: (customId) => this.submitted.set(customId, (this.submitted.get(customId) ?? 0) + 1),
    });
  }

  static handles(path: string): boolean {
    return path === '/files' || path === '/batches' || path.startsWith('/files/') || path.startsWith('/batches/');
  }

  /** Counters are reset with the server's; files and batches stay, as they would at a provider. */
  resetStats(): void {
    this.counters = { filesUploaded: 0, batchesCreated: 0, requestsAnswered: 0 };
    this.submitted = new Map();
  }

  /** Brings every batch up to now first, so that a batch nobody polls still shows what it billed. */
  stats(): BatchStats {
    const byStatus = this.batches.countByStatus(Date.now());
    return { ...this.counters, byStatus, submitted: Object.fromEntries(this.submitted) };
  }

  handle(path: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    if (this.deps.options()?.absent) {
      req.resume();
      return this.send(res, 404, errorBody(`Unknown route: ${req.method ?? 'GET'} ${path}`, 'not_found', null, 'not_found'));
    }
    const refused = this.deps.refuseAuth(req);
    if (refused) {
      req.resume();
      return this.send(res, 401, refused);
    }
    const parts = path.split('/').filter(Boolean);
    const [collection, id, action] = parts;
    const method = req.method ?? 'GET';
    if (collection === 'files') {
      if (parts.length === 1 && method === 'POST') return void this.uploadFile(req, res);
      if (parts.length === 2 && method === 'GET') return this.getFile(id!, res);
      if (parts.length === 2 && method === 'DELETE') return this.deleteFile(id!, res);
      if (parts.length === 3 && action === 'content' && method === 'GET') return this.fileContent(id!, res);
    } else {
      if (parts.length === 1 && method === 'POST') return void this.createBatch(req, res);
      if (parts.length === 1 && method === 'GET') return this.listBatches(query, res);
      if (parts.length === 2 && method === 'GET') return this.getBatch(id!, res);
      if (parts.length === 3 && action === 'cancel' && method === 'POST') return this.cancelBatch(id!, res);
    }
    req.resume();
    this.send(res, 404, errorBody(`Unknown route: ${method} ${path}`, 'not_found', null, 'not_found'));
  }

  private async uploadFile(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const maxBytes = this.deps.options()?.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
      req.resume();
      return this.send(res, 400, invalid('The upload must be multipart/form-data with the fields purpose and file.', null, 'unsupported_content_type'));
    }
    const body = await readBytes(req, maxBytes + MULTIPART_OVERHEAD);
    if (body === 'too_large') {
      res.setHeader('connection', 'close');
      return this.send(res, 400, invalid(`The file is larger than ${maxBytes} bytes, the most allowed.`, 'file', 'file_too_large'));
    }
    if (body === 'error') return void req.socket.destroy();
    let form: FormData;
    try {
      // Node's own fetch implementation parses multipart bodies; no parser of our own to get wrong.
      form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
    } catch {
      return this.send(res, 400, invalid('The multipart body could not be parsed.', null, 'invalid_multipart'));
    }
    const purpose = form.get('purpose');
    const file = form.get('file');
    if (typeof purpose !== 'string' || purpose === '') return this.send(res, 400, invalid('Missing required parameter: purpose.', 'purpose', 'missing_required_parameter'));
    if (!FILE_PURPOSES.has(purpose)) return this.send(res, 400, invalid(`Invalid purpose: ${JSON.stringify(purpose)}.`, 'purpose', 'invalid_value'));
    if (file === null || typeof file === 'string') return this.send(res, 400, invalid('Missing required parameter: file.', 'file', 'missing_required_parameter'));
    if (file.size > maxBytes) return this.send(res, 400, invalid(`The file is larger than ${maxBytes} bytes, the most allowed.`, 'file', 'file_too_large'));
    if (purpose === 'batch' && !file.name.endsWith('.jsonl')) {
      return this.send(res, 400, invalid('Invalid file format for Batch API. Must be .jsonl', 'file', 'invalid_file_format'));
    }
    const stored = this.files.add(Buffer.from(await file.arrayBuffer()), file.name, purpose, Date.now());
    this.counters.filesUploaded++;
    this.send(res, 200, { ...stored, status: 'processed', status_details: null });
  }

  private getFile(id: string, res: ServerResponse): void {
    const stored = this.files.get(id);
    if (!stored) return this.send(res, 404, noSuchFile(id));
    this.send(res, 200, { ...stored.file, status: 'processed', status_details: null });
  }

  private deleteFile(id: string, res: ServerResponse): void {
    if (!this.files.delete(id)) return this.send(res, 404, noSuchFile(id));
    this.send(res, 200, { id, object: 'file', deleted: true });
  }

  private fileContent(id: string, res: ServerResponse): void {
    const stored = this.files.get(id);
    if (!stored) return this.send(res, 404, noSuchFile(id));
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(stored.content.length) });
    res.end(stored.content);
  }

  private async createBatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBytes(req, 1024 * 1024);
    if (raw === 'too_large') return this.send(res, 400, invalid('The request body is too large.', null, 'request_too_large'));
    if (raw === 'error') return void req.socket.destroy();
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.send(res, 400, invalid('We could not parse the JSON body of your request.', null, 'invalid_json'));
    }
    const problem = checkCreateBatch(body);
    if (problem) return this.send(res, 400, problem);
    const { input_file_id: fileId, metadata } = body as { input_file_id: string; metadata?: Record<string, string> | null };
    const file = this.files.get(fileId);
    // 400, not 404: a 404 on POST /batches reads as "this API has no batch endpoint".
    if (!file) return this.send(res, 400, invalid(`No such File object: ${fileId}`, 'input_file_id', 'invalid_file'));
    if (file.file.purpose !== 'batch') return this.send(res, 400, invalid(`File ${fileId} was not uploaded with purpose "batch".`, 'input_file_id', 'invalid_file'));
    const batch = this.batches.create(fileId, metadata ?? null, this.deps.options(), this.deps.seed(), Date.now());
    this.counters.batchesCreated++;
    this.send(res, 200, batch);
  }

  private getBatch(id: string, res: ServerResponse): void {
    const batch = this.batches.get(id, Date.now());
    if (!batch) return this.send(res, 404, noSuchBatch(id));
    this.send(res, 200, batch);
  }

  private listBatches(query: URLSearchParams, res: ServerResponse): void {
    const limitText = query.get('limit');
    const limit = limitText === null ? DEFAULT_LIST_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      return this.send(res, 400, invalid(`limit must be an integer from 1 to ${MAX_LIST_LIMIT}.`, 'limit', 'invalid_value'));
    }
    const { data, has_more } = this.batches.list(query.get('after') ?? undefined, limit, Date.now());
    this.send(res, 200, listBody(data, has_more));
  }

  private cancelBatch(id: string, res: ServerResponse): void {
    const outcome = this.batches.cancel(id, Date.now());
    if (!outcome) return this.send(res, 404, noSuchBatch(id));
    const { batch, final } = outcome;
    if (final && batch.status !== 'cancelled') {
      return this.send(res, 409, invalid(`Cannot cancel a batch with status ${batch.status}.`, null, 'batch_not_cancellable'));
    }
    this.send(res, 200, batch);
  }
}

function listBody(data: ProviderBatch[], hasMore: boolean): Record<string, unknown> {
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore };
}

function invalid(message: string, param: string | null, code: string): ErrorBody {
  return errorBody(message, 'invalid_request_error', param, code);
}

function noSuchFile(id: string): ErrorBody {
  return errorBody(`No such File object: ${id}`, 'invalid_request_error', 'id', null);
}

function noSuchBatch(id: string): ErrorBody {
  return errorBody(`No batch found with id '${id}'.`, 'invalid_request_error', 'id', null);
}

/** The first thing wrong with a `POST /batches` body, or null. */
export function checkCreateBatch(body: unknown): ErrorBody | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid('The body must be a JSON object.', null, 'invalid_json');
  const b = body as Record<string, unknown>;
  if (typeof b.input_file_id !== 'string' || b.input_file_id === '') return invalid('Missing required parameter: input_file_id.', 'input_file_id', 'missing_required_parameter');
  if (b.endpoint !== BATCH_ENDPOINT) return invalid(`This server runs batches for ${BATCH_ENDPOINT} only.`, 'endpoint', 'invalid_value');
  if (b.completion_window !== BATCH_COMPLETION_WINDOW) return invalid(`completion_window must be ${JSON.stringify(BATCH_COMPLETION_WINDOW)}.`, 'completion_window', 'invalid_value');
  const metadata = b.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) return invalid('metadata must be an object.', 'metadata', 'invalid_type');
    const entries = Object.entries(metadata);
    if (entries.length > MAX_METADATA_KEYS) return invalid(`metadata may hold at most ${MAX_METADATA_KEYS} keys.`, 'metadata', 'invalid_value');
    for (const [key, value] of entries) {
      if (key.length > 64 || typeof value !== 'string' || value.length > 512) {
        return invalid('metadata keys must be at most 64 characters and values strings of at most 512.', 'metadata', 'invalid_value');
      }
    }
  }
  return null;
}

/** The whole body as bytes; 'too_large' past `maxBytes` (the rest is drained), 'error' if the upload broke. */
function readBytes(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too_large' | 'error'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > maxBytes) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? 'too_large' : Buffer.concat(chunks, size)));
    req.on('error', () => resolve('error'));
  });
}
