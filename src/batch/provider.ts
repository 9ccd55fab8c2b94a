/**
 * What batch-mode orchestration (./driver.ts) needs of a provider's Files + Batches API, over the
 * HTTP client in ./client.ts. An interface, so that the orchestration names only what it uses.
 */
import { BatchClient, BatchApiUnavailableError } from './client.js';
import type { BatchOutputLine, ProviderBatch, ProviderFile } from './types.js';

export interface BatchProvider {
  uploadBatchFile(content: Buffer, filename: string): Promise<ProviderFile>;
  createBatch(inputFileId: string, metadata: Record<string, string>): Promise<ProviderBatch>;
  getBatch(batchId: string): Promise<ProviderBatch>;
  /** Every batch the key can see, newest first, page by page. */
  listBatches(): AsyncIterable<ProviderBatch>;
  cancelBatch(batchId: string): Promise<ProviderBatch>;
  /** The lines of an output or error file, streamed; lines that name no item are left out. */
  fileLines(fileId: string): AsyncIterable<BatchOutputLine>;
}

/** The API has no batch endpoint (404 on /files or /batches): the run must use another mode. */
export { BatchApiUnavailableError };

export function batchProvider(opts: { baseUrl: string; apiKey: string | undefined }): BatchProvider {
  const client = new BatchClient({ baseUrl: opts.baseUrl, apiKey: opts.apiKey });
  return {
    uploadBatchFile: (content, filename) => client.uploadBatchFile(content, filename),
    createBatch: (inputFileId, metadata) => client.createBatch({ input_file_id: inputFileId, metadata }),
    getBatch: (id) => client.getBatch(id),
    listBatches: () => client.allBatches(),
    cancelBatch: (id) => client.cancelBatch(id),
    fileLines: (id) => outputLines(client.fileLines(id)),
  };
}

async function* outputLines(lines: AsyncIterable<string>): AsyncGenerator<BatchOutputLine> {
  for await (const text of lines) {
    let line: BatchOutputLine;
    try {
      line = JSON.parse(text) as BatchOutputLine;
    } catch {
      continue;
    }
    if (typeof line?.custom_id === 'string') yield line;
  }
}
