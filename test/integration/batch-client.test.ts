/**
 * The Batch API client against the fake server's /files and /batches, over real HTTP: the whole
 * flow (upload, create, poll, download), each fault switch as the client sees it, and a large output
 * file read as a stream.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchApiUnavailableError, BatchClient, BatchObjectNotFoundError } from '../../src/batch/client.js';
import { FINAL_BATCH_STATUSES, type BatchInputLine, type BatchOutputLine, type ProviderBatch } from '../../src/batch/types.js';
import { startFakeServer, type FakeServer } from '../../src/fake-server/index.js';
import { AuthenticationError, NetworkError, RequestTimeoutError, ServerError } from '../../src/worker/errors.js';

let server: FakeServer;
let client: BatchClient;

/** Fast batches for tests: 0 ms per request unless a test slows them down to act mid-batch. */
const FAST = { msPerRequest: 0, validatingMs: 0, finalizingMs: 0, cancellingMs: 0 };

before(async () => {
  server = await startFakeServer({ batch: FAST });
  client = new BatchClient({ baseUrl: server.url, apiKey: undefined });
});

after(async () => {
  await server.close();
});

beforeEach(() => {
  server.setOptions({ apiKey: undefined, faults: undefined, batch: FAST });
  server.reset();
});

function inputLine(customId: string, text: string, extra: Record<string, unknown> = {}): BatchInputLine {
  return { custom_id: customId, method: 'POST', url: '/v1/responses', body: { model: 'gpt-4o-mini', input: text, ...extra } };
}

function jsonl(lines: readonly BatchInputLine[]): string[] {
  return lines.map((l) => JSON.stringify(l));
}

async function submit(lines: readonly BatchInputLine[], metadata?: Record<string, string>): Promise<ProviderBatch> {
  const file = await client.uploadBatchFile(jsonl(lines), 'input.jsonl');
  return client.createBatch({ input_file_id: file.id, ...(metadata ? { metadata } : {}) });
}

/** Polls until the batch is final; bounded by a number of polls, not by a clock. */
async function waitFinal(id: string): Promise<ProviderBatch> {
  for (let i = 0; i < 2000; i++) {
    const batch = await client.getBatch(id);
    if (FINAL_BATCH_STATUSES.has(batch.status)) return batch;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`batch ${id} never ended`);
}

async function readLines(fileId: string | null | undefined): Promise<BatchOutputLine[]> {
  if (!fileId) return [];
  const out: BatchOutputLine[] = [];
  for await (const line of client.fileLines(fileId)) out.push(JSON.parse(line) as BatchOutputLine);
  return out;
}

function items(n: number, prefix = 'job'): BatchInputLine[] {
  return Array.from({ length: n }, (_, i) => inputLine(`${prefix}-${i}`, `item number ${i}`));
}

describe('the whole flow', () => {
  test('upload, create, poll to completed, download: one line per custom_id, answered as online would', async () => {
    const lines = items(20);
    const file = await client.uploadBatchFile(jsonl(lines), 'input.jsonl');
    assert.equal(file.purpose, 'batch');
    assert.equal(file.filename, 'input.jsonl');
    assert.equal(file.bytes, jsonl(lines).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0), 'the upload is byte for byte the lines');
    const created = await client.createBatch({ input_file_id: file.id, metadata: { respool_run: 'r1' } });
    assert.equal(created.status, 'validating');
    assert.equal(created.endpoint, '/v1/responses');
    assert.equal(created.completion_window, '24h');
    assert.deepEqual(created.metadata, { respool_run: 'r1' });

    const done = await waitFinal(created.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: 20, completed: 20, failed: 0 });
    assert.equal(done.error_file_id, null);
    const output = await readLines(done.output_file_id);
    assert.deepEqual(output.map((l) => l.custom_id).sort(), lines.map((l) => l.custom_id).sort());

    const online = await fetch(`${server.url}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(lines[3]!.body) });
    const onlineBody = (await online.json()) as { output: unknown; usage: unknown };
    const batchBody = output.find((l) => l.custom_id === 'job-3')!.response!.body as { output: Array<{ content?: unknown }>; usage: unknown };
    assert.equal(output.find((l) => l.custom_id === 'job-3')!.response!.status_code, 200);
    assert.deepEqual(batchBody.usage, onlineBody.usage, 'the same usage as the online answer');
    assert.deepEqual(batchBody.output[1]!.content, (onlineBody.output as Array<{ content?: unknown }>)[1]!.content, 'the same text as the online answer');

    const stats = server.stats();
    assert.equal(stats.batch.batchesCreated, 1);
    assert.equal(stats.batch.requestsAnswered, 20);
    for (const l of lines) assert.equal(stats.batch.submitted[l.custom_id], 1);
    assert.equal(stats.billed['job-3'], 1, 'billed once: the online call above went without an Idempotency-Key');
  });

  test('the input can be streamed from an async iterable (sent chunked, no length known ahead)', async () => {
    async function* stream(): AsyncGenerator<string> {
      for (const l of jsonl(items(50, 's'))) yield l;
    }
    const file = await client.uploadBatchFile(stream(), 'streamed.jsonl');
    const batch = await waitFinal((await client.createBatch({ input_file_id: file.id })).id);
    assert.equal(batch.status, 'completed');
    assert.equal(batch.request_counts?.completed, 50);
  });

  test('online and batch answers of one item add up in the billed count', async () => {
    const res = await fetch(`${server.url}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'twice-0' },
      body: JSON.stringify(inputLine('twice-0', 'x').body),
    });
    assert.equal(res.status, 200);
    await waitFinal((await submit([inputLine('twice-0', 'x'), inputLine('once-1', 'y')])).id);
    const billed = server.stats().billed;
    assert.equal(billed['twice-0'], 2, 'paid online and again in the batch');
    assert.equal(billed['once-1'], 1);
  });

  test('lines with an error status (here a magic [[status:400]]) go to the error file with the response body', async () => {
    const batch = await waitFinal((await submit([inputLine('ok', 'fine'), inputLine('bad', 'please [[status:400]]')])).id);
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.request_counts, { total: 2, completed: 1, failed: 1 });
    const errors = await readLines(batch.error_file_id);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.custom_id, 'bad');
    assert.equal(errors[0]!.response?.status_code, 400);
    assert.equal((errors[0]!.response?.body as { error: { type: string } }).error.type, 'invalid_request_error');
    assert.equal(server.stats().billed['bad'], undefined, 'an error line is not billed');
  });

  test('files can be read back and deleted; a second delete says it was gone', async () => {
    const file = await client.uploadBatchFile('{"custom_id":"a","method":"POST","url":"/v1/responses","body":{}}\n', 'one.jsonl');
    assert.equal((await client.getFile(file.id)).bytes, file.bytes);
    assert.equal(await client.deleteFile(file.id), true);
    assert.equal(await client.deleteFile(file.id), false);
    await assert.rejects(client.getFile(file.id), BatchObjectNotFoundError);
  });
});

describe('listing and lookups', () => {
  test('newest first, limited, with an after cursor and has_more; allBatches walks every page', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await submit([inputLine(`l-${i}`, 'x')], { n: String(i) })).id);
    const first = await client.listBatches({ limit: 2 });
    assert.deepEqual(first.data.map((b) => b.id), [ids[4], ids[3]]);
    assert.equal(first.has_more, true);
    const second = await client.listBatches({ limit: 2, after: first.last_id! });
    assert.deepEqual(second.data.map((b) => b.id), [ids[2], ids[1]]);
    const all: ProviderBatch[] = [];
    for await (const b of client.allBatches({ pageSize: 2 })) all.push(b);
    const mine = all.filter((b) => ids.includes(b.id));
    assert.deepEqual(mine.map((b) => b.metadata?.n), ['4', '3', '2', '1', '0'], 'found by metadata, newest first');
  });

  test('an unknown batch id is BatchObjectNotFoundError, not a missing API', async () => {
    const err = await client.getBatch('batch_nope').catch((e: unknown) => e);
    assert.ok(err instanceof BatchObjectNotFoundError, String(err));
    assert.equal(err.stopsRun, false);
    assert.equal(err.retryable, false);
  });

  test('an unknown input file is refused with 400 and does not look like a missing API', async () => {
    const err = await client.createBatch({ input_file_id: 'file-nope' }).catch((e: unknown) => e);
    assert.ok(err instanceof Error);
    assert.ok(!(err instanceof BatchApiUnavailableError));
    assert.match(err.message, /No such File object/);
  });
});

describe('fault switches', () => {
  test('absent: 404 on /files and /batches becomes BatchApiUnavailableError, which stops the run and names other modes', async () => {
    server.setOptions({ batch: { ...FAST, absent: true } });
    for (const call of [() => client.uploadBatchFile(['{}'], 'x.jsonl'), () => client.createBatch({ input_file_id: 'file-1' }), () => client.listBatches()]) {
      const err = await call().catch((e: unknown) => e);
      assert.ok(err instanceof BatchApiUnavailableError, String(err));
      assert.equal(err.stopsRun, true);
      assert.equal(err.status, 404);
      assert.match(err.message, /no Batch API/);
      assert.match(err.message, /online or flex/);
    }
  });

  test('failed validation: status failed with errors', async () => {
    server.setOptions({ batch: { ...FAST, failValidation: true } });
    const batch = await waitFinal((await submit(items(3))).id);
    assert.equal(batch.status, 'failed');
    assert.ok(batch.failed_at);
    assert.ok((batch.errors?.data.length ?? 0) > 0);
    assert.equal(batch.output_file_id, null);
    assert.equal(server.stats().batch.requestsAnswered, 0);
  });

  test('a file with bad lines fails validation, naming each line', async () => {
    const good = JSON.stringify(inputLine('dup', 'x'));
    const file = await client.uploadBatchFile([good, good, 'not json', JSON.stringify({ ...inputLine('u', 'x'), url: '/v1/chat/completions' })], 'bad.jsonl');
    const batch = await waitFinal((await client.createBatch({ input_file_id: file.id })).id);
    assert.equal(batch.status, 'failed');
    const byLine = Object.fromEntries((batch.errors?.data ?? []).map((e) => [e.line, e.code]));
    assert.deepEqual(byLine, { 2: 'duplicate_custom_id', 3: 'invalid_json_line', 4: 'invalid_url' });
  });

  test('expire after half: the finished half is in the output file, the rest batch_expired in the error file, each custom_id once', async () => {
    server.setOptions({ batch: { ...FAST, expireAfter: 0.5 } });
    const lines = items(40);
    const batch = await waitFinal((await submit(lines)).id);
    assert.equal(batch.status, 'expired');
    assert.ok(batch.expired_at);
    const output = await readLines(batch.output_file_id);
    const errors = await readLines(batch.error_file_id);
    assert.equal(output.length, 20);
    assert.equal(errors.length, 20);
    assert.ok(errors.every((l) => l.response === null && l.error?.code === 'batch_expired'));
    const all = [...output, ...errors].map((l) => l.custom_id).sort();
    assert.deepEqual(all, lines.map((l) => l.custom_id).sort(), 'every custom_id exactly once over both files');
    const billed = server.stats().billed;
    assert.equal(Object.keys(billed).length, 20, 'only the finished half is billed');
    assert.ok(output.every((l) => billed[l.custom_id] === 1));
    assert.notDeepEqual(
      output.map((l) => l.custom_id),
      lines.slice(0, 20).map((l) => l.custom_id),
      'the finished part is a scattered subset in any order, not the head of the file',
    );
  });

  test('error lines: a share of requests end in the error file with the configured status', async () => {
    server.setOptions({ batch: { ...FAST, errorRate: 1, errorStatus: 500 } });
    const batch = await waitFinal((await submit(items(5))).id);
    assert.equal(batch.status, 'completed');
    assert.equal(batch.output_file_id, null);
    const errors = await readLines(batch.error_file_id);
    assert.equal(errors.length, 5);
    assert.ok(errors.every((l) => l.response?.status_code === 500 && l.error === null));

    server.setOptions({ batch: { ...FAST, errorRate: 0.5, errorStatus: 400 } });
    const mixed = await waitFinal((await submit(items(40, 'm'))).id);
    const failed = mixed.request_counts!.failed;
    assert.ok(failed > 0 && failed < 40, `about half fail, got ${failed}`);
    assert.ok((await readLines(mixed.error_file_id)).every((l) => l.response?.status_code === 400));
  });

  test('cancel mid-batch: cancelling, then cancelled keeping the finished lines; cancelling a finished batch returns it', async () => {
    server.setOptions({ batch: { ...FAST, msPerRequest: 20, cancellingMs: 30 } });
    const lines = items(200);
    const created = await submit(lines);
    let batch = await client.getBatch(created.id);
    for (let i = 0; i < 500 && (batch.request_counts?.completed ?? 0) < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
      batch = await client.getBatch(created.id);
    }
    const cancelling = await client.cancelBatch(created.id);
    assert.equal(cancelling.status, 'cancelling');
    assert.ok(cancelling.cancelling_at);
    const cancelled = await waitFinal(created.id);
    assert.equal(cancelled.status, 'cancelled');
    const output = await readLines(cancelled.output_file_id);
    const errors = await readLines(cancelled.error_file_id);
    assert.ok(output.length >= 2 && output.length < 200, `some finished lines kept, got ${output.length}`);
    assert.ok(errors.every((l) => l.error?.code === 'batch_cancelled'));
    assert.equal(output.length + errors.length, 200);

    const again = await client.cancelBatch(created.id);
    assert.equal(again.status, 'cancelled');
    server.setOptions({ batch: FAST });
    const completed = await waitFinal((await submit(items(2, 'c'))).id);
    const notCancelled = await client.cancelBatch(completed.id);
    assert.equal(notCancelled.status, 'completed', 'a 409 for an ended batch gives back its state');
  });

  test('cancel after a share: the server cancels on its own, keeping what finished', async () => {
    server.setOptions({ batch: { ...FAST, cancelAfter: 0.25 } });
    const batch = await waitFinal((await submit(items(20))).id);
    assert.equal(batch.status, 'cancelled');
    assert.equal((await readLines(batch.output_file_id)).length, 5);
    assert.equal((await readLines(batch.error_file_id)).length, 15);
  });

  test('enqueued-token limit: a batch over the quota fails with token_limit_exceeded while another is in flight', async () => {
    const perItem = 30;
    server.setOptions({ batch: { ...FAST, msPerRequest: 1000, enqueuedTokenLimit: perItem * 3 } });
    const text = 'x'.repeat(perItem * 4 - 1);
    const first = await submit([inputLine('t-0', text), inputLine('t-1', text)]);
    assert.equal((await client.getBatch(first.id)).status, 'in_progress');
    const second = await waitFinal((await submit([inputLine('t-2', text), inputLine('t-3', text)])).id);
    assert.equal(second.status, 'failed');
    assert.equal(second.errors?.data[0]?.code, 'token_limit_exceeded');
    assert.match(second.errors?.data[0]?.message ?? '', /Enqueued token limit reached for gpt-4o-mini/);
    await client.cancelBatch(first.id);
  });
});

describe('keys and errors', () => {
  test('a wrong key is AuthenticationError (stops the run), and no message carries the key', async () => {
    const key = 'sk-test-secret-key-0123456789';
    server.setOptions({ apiKey: 'the-right-key-000000' });
    const wrong = new BatchClient({ baseUrl: server.url, apiKey: key });
    const err = await wrong.listBatches().catch((e: unknown) => e);
    assert.ok(err instanceof AuthenticationError, String(err));
    assert.equal(err.stopsRun, true);
    assert.ok(!err.message.includes(key));
    assert.ok(!JSON.stringify(wrong).includes(key));
    const right = new BatchClient({ baseUrl: server.url, apiKey: 'the-right-key-000000' });
    assert.ok(Array.isArray((await right.listBatches()).data));
  });

  test('a server that is not there is a retryable error', async () => {
    const gone = new BatchClient({ baseUrl: 'http://127.0.0.1:9/v1', apiKey: undefined, timeoutMs: 5000 });
    const err = await gone.getBatch('batch_1').catch((e: unknown) => e);
    assert.ok(err instanceof Error && 'retryable' in err && err.retryable === true, String(err));
  });

  test('a 500 is a retryable ServerError naming the call, with the key redacted even when the server echoes it', async () => {
    const key = 'sk-echoed-secret-0123456789abcdef';
    // A proxy that quotes the request's headers in its error page, and answers 200 with a page that is no batch.
    const proxy = createServer((req, res) => {
      const status = req.url?.includes('broken') ? 500 : 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`proxy saw authorization: ${req.headers.authorization ?? ''}`);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const c = new BatchClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1`, apiKey: key });
      const err = await c.getBatch('broken').catch((e: unknown) => e);
      assert.ok(err instanceof ServerError, String(err));
      assert.equal(err.retryable, true);
      assert.equal(err.status, 500);
      assert.match(err.message, /^GET \/batches\/broken: HTTP 500/);
      assert.ok(!err.message.includes(key), err.message);
      const odd = await c.getBatch('fine').catch((e: unknown) => e);
      assert.ok(odd instanceof ServerError, String(odd));
      assert.match(odd.message, /unexpected answer to GET \/batches\/fine: the answer is not JSON/);
      assert.ok(!odd.message.includes(key));
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});

describe('streaming download', () => {
  test('a large output file arrives line by line, every line whole, and an early stop closes the download', async () => {
    const n = 6000;
    // Long prompts make long lines, so that lines are cut across network chunks.
    const lines = Array.from({ length: n }, (_, i) => inputLine(`big-${i}`, `${'long prompt '.repeat(30)}${i}`));
    const batch = await waitFinal((await submit(lines)).id);
    assert.equal(batch.status, 'completed');
    const size = (await client.getFile(batch.output_file_id!)).bytes;
    assert.ok(size > 4 * 1024 * 1024, `the output file is large (${size} bytes)`);

    const seen = new Set<string>();
    let count = 0;
    for await (const line of client.fileLines(batch.output_file_id!)) {
      const parsed = JSON.parse(line) as BatchOutputLine;
      seen.add(parsed.custom_id);
      count++;
    }
    assert.equal(count, n);
    assert.equal(seen.size, n);

    let first: string | undefined;
    for await (const line of client.fileLines(batch.output_file_id!)) {
      first = line;
      break;
    }
    assert.ok(first && JSON.parse(first));
    // The client is still usable after the early stop.
    assert.equal((await client.getBatch(batch.id)).status, 'completed');
  });

  test('lines are handed over as they arrive: the first line comes before the server has sent the rest', async () => {
    let firstSeen!: () => void;
    const seen = new Promise<void>((r) => (firstSeen = r));
    let streamed = false;
    const server2 = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      // Line 1, cut in two writes, then nothing more until the client has read it (or 10 s went by).
      res.write('{"custom_id":"first",');
      res.write('"response":null,"error":null}\n');
      const giveUp = setTimeout(() => res.end('{"custom_id":"second"}\n'), 10_000);
      void seen.then(() => {
        streamed = true;
        clearTimeout(giveUp);
        res.end('{"custom_id":"second"}\r\n\n{"custom_id":"third"}');
      });
    });
    await new Promise<void>((resolve) => server2.listen(0, '127.0.0.1', resolve));
    try {
      const c = new BatchClient({ baseUrl: `http://127.0.0.1:${(server2.address() as AddressInfo).port}/v1`, apiKey: undefined });
      const ids: string[] = [];
      for await (const line of c.fileLines('file-1')) {
        ids.push((JSON.parse(line) as { custom_id: string }).custom_id);
        if (ids.length === 1) firstSeen();
      }
      assert.equal(streamed, true, 'the first line was only handed over once the whole file had arrived');
      assert.deepEqual(ids, ['first', 'second', 'third'], 'CRLF and blank lines and a last line without newline are read');
    } finally {
      server2.closeAllConnections();
      await new Promise((r) => server2.close(r));
    }
  });

  test('a download that stalls or breaks off fails as retryable, after the lines that did arrive', async () => {
    const server2 = createServer((req, res) => {
      if (req.url?.includes('stall')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write('{"custom_id":"a"}\n');
        return; // and never another byte
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
      res.write('{"custom_id":"a"}\n', () => res.socket?.destroy());
    });
    await new Promise<void>((resolve) => server2.listen(0, '127.0.0.1', resolve));
    try {
      const c = new BatchClient({ baseUrl: `http://127.0.0.1:${(server2.address() as AddressInfo).port}/v1`, apiKey: undefined, downloadIdleMs: 300 });
      for (const id of ['stall', 'cut']) {
        const got: string[] = [];
        const err = await (async () => {
          for await (const line of c.fileLines(id)) got.push(line);
        })().catch((e: unknown) => e);
        assert.deepEqual(got, ['{"custom_id":"a"}'], id);
        assert.ok(err instanceof RequestTimeoutError || err instanceof NetworkError, `${id}: ${String(err)}`);
        assert.equal(err.retryable, true);
        if (id === 'stall') assert.ok(err instanceof RequestTimeoutError, `a stall is a timeout: ${err.name}`);
      }
    } finally {
      server2.closeAllConnections();
      await new Promise((r) => server2.close(r));
    }
  });
});
