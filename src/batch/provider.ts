/**
 * What batch-mode orchestration (./driver.ts) needs of a provider's Files + Batches API, and a plain
 * HTTP implementation of it for OpenAI-compatible APIs. Calls are few (a handful per batch of up to
 * 50,000 items), so the global fetch serves; output files are read as a stream, line by line.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { BATCH_COMPLETION_WINDOW, BATCH_ENDPOINT, type BatchOutputLine, type ProviderBatch, type ProviderFile } from './types.js';
import { redactSecrets, truncate } from '../worker/redact.js';

export interface BatchProvider {
  uploadBatchFile(content: Buffer, filename: string): Promise<ProviderFile>;
  createBatch(inputFileId: string, metadata: Record<string, string>): Promise<ProviderBatch>;
  getBatch(batchId: string): Promise<ProviderBatch>;
  /** Every batch the key can see, newest first, page by page. */
  listBatches(): AsyncIterable<ProviderBatch>;
  cancelBatch(batchId: string): Promise<ProviderBatch>;
  /** The lines of an output or error file, streamed. */
  fileLines(fileId: string): AsyncIterable<BatchOutputLine>;
}

/** The API has no batch endpoint (404 on /files or /batches): the run must use another mode. */
export class BatchApiMissingError extends Error {
  override name = 'BatchApiMissingError';
}

/** Any other failed call of the batch API; `status` null when there was no answer. */
export class BatchApiError extends Error {
  override name = 'BatchApiError';
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

export interface HttpBatchProviderOptions {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs?: number;
}

export class HttpBatchProvider implements BatchProvider {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: HttpBatchProviderOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 120_000;
  }

  async uploadBatchFile(content: Buffer, filename: string): Promise<ProviderFile> {
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([content], { type: 'application/jsonl' }), filename);
    return (await this.json('POST', '/files', form)) as ProviderFile;
  }

  async createBatch(inputFileId: string, metadata: Record<string, string>): Promise<ProviderBatch> {
    const body = { input_file_id: inputFileId, endpoint: BATCH_ENDPOINT, completion_window: BATCH_COMPLETION_WINDOW, metadata };
    return (await this.json('POST', '/batches', JSON.stringify(body))) as ProviderBatch;
  }

  async getBatch(batchId: string): Promise<ProviderBatch> {
    return (await this.json('GET', `/batches/${encodeURIComponent(batchId)}`)) as ProviderBatch;
  }

  async *listBatches(): AsyncIterable<ProviderBatch> {
    let after: string | null = null;
    for (;;) {
      const query: string = `?limit=100${after === null ? '' : `&after=${encodeURIComponent(after)}`}`;
      const page = (await this.json('GET', `/batches${query}`)) as { data?: ProviderBatch[]; has_more?: boolean; last_id?: string | null };
      const data = page.data ?? [];
      yield* data;
      if (!page.has_more || data.length === 0) return;
      after = page.last_id ?? data[data.length - 1]!.id;
    }
  }

  async cancelBatch(batchId: string): Promise<ProviderBatch> {
    return (await this.json('POST', `/batches/${encodeURIComponent(batchId)}/cancel`)) as ProviderBatch;
  }

  async *fileLines(fileId: string): AsyncIterable<BatchOutputLine> {
    const res = await this.send('GET', `/files/${encodeURIComponent(fileId)}/content`, undefined, false);
    if (!res.body) return;
    const lines = createInterface({ input: Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      yield JSON.parse(line) as BatchOutputLine;
    }
  }

  private async json(method: string, path: string, body?: string | FormData): Promise<unknown> {
    const res = await this.send(method, path, body, true);
    return res.json();
  }

  private async send(method: string, path: string, body: string | FormData | undefined, whole: boolean): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.opts.apiKey?.trim()) headers.authorization = `Bearer ${this.opts.apiKey.trim()}`;
    if (typeof body === 'string') headers['content-type'] = 'application/json';
    let res: Response;
    try {
      // A download is streamed: its timeout covers the answer's start, not reading the whole file.
      res = await fetch(this.base + path, { method, headers, ...(body === undefined ? {} : { body }), redirect: 'manual', signal: whole ? AbortSignal.timeout(this.timeoutMs) : null });
    } catch (err) {
      throw new BatchApiError(`${method} ${path}: ${this.clean((err as Error).message)}`, null);
    }
    if (res.ok) return res;
    const text = this.clean(await res.text().catch(() => ''));
    const root = path.split('/')[1] ?? '';
    if (res.status === 404 && (path === '/files' || path === '/batches' || (method === 'GET' && root === 'batches' && path.startsWith('/batches?')))) {
      throw new BatchApiMissingError(`the API at ${this.base} has no batch endpoint (${method} ${path.split('?')[0]} answered 404)`);
    }
    throw new BatchApiError(`${method} ${path.split('?')[0]}: HTTP ${res.status}${text ? `: ${text}` : ''}`, res.status);
  }

  private clean(text: string): string {
    return truncate(redactSecrets(text.replace(/\s+/g, ' ').trim(), this.opts.apiKey ? [this.opts.apiKey] : []), 500);
  }
}
