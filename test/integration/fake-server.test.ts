import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Ajv2020Module from 'ajv/dist/2020.js';
import { startFakeServer, type FakeServer, type FakeStats } from '../../src/fake-server/index.js';
import { sleep } from '../../src/core/sleep.js';
import { pngHeaderUri } from '../helpers/png.js';

// The reply is checked with a validator built here from the spec file, not with the server's own,
// so that a bug in the server's schema loading cannot hide a non-conforming reply.
const spec = JSON.parse(readFileSync(new URL('../../spec/openresponses.openapi.json', import.meta.url), 'utf8')) as object;
const ajv = new Ajv2020Module.default({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(spec, 'spec');
const validateResponse = ajv.compile({ $ref: 'spec#/components/schemas/ResponseResource' });

function assertSpecValid(body: unknown): void {
  const ok = validateResponse(body);
  assert.ok(ok, `reply does not match ResponseResource: ${ajv.errorsText(validateResponse.errors)}`);
}

interface ResponseJson {
  id: string;
  status: string;
  model: string;
  output: Array<{ type: string; status?: string; content?: Array<{ type: string; text?: string; refusal?: string }> }>;
  usage: { input_tokens: number; output_tokens: number; total_tokens: number } | null;
  incomplete_details: { reason: string } | null;
  error: { code: string; message: string } | null;
}

interface ErrorJson {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function outputText(r: ResponseJson): string {
  return r.output
    .filter((i) => i.type === 'message')
    .flatMap((m) => m.content ?? [])
    .filter((p) => p.type === 'output_text')
    .map((p) => p.text)
    .join('');
}

let server: FakeServer;

function post(body: unknown, init: { key?: string; headers?: Record<string, string>; signal?: AbortSignal; path?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers };
  if (init.key !== undefined) headers['idempotency-key'] = init.key;
  return fetch(`${server.url}${init.path ?? '/responses'}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  });
}

async function control(path: string, body?: unknown): Promise<Response> {
  const base = server.url.replace(/\/v1$/, '');
  return body === undefined && path === '/_stats' ? fetch(`${base}${path}`) : fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body ?? {}) });
}

async function remoteStats(): Promise<FakeStats> {
  return (await (await control('/_stats')).json()) as FakeStats;
}

const user = (text: string): unknown[] => [{ type: 'message', role: 'user', content: text }];

before(async () => {
  server = await startFakeServer();
});

after(async () => {
  await server.close();
});

beforeEach(() => {
  server.setOptions({ latencyMs: 0, faults: undefined, apiKey: undefined });
  server.reset();
});

describe('valid requests', () => {
  test('a valid request gets 200 with a spec-valid ResponseResource', async () => {
    const res = await post({ model: 'test-model', input: user('Why do developers prefer dark mode?'), instructions: 'Be brief.' }, { key: 'a' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as ResponseJson;
    assertSpecValid(body);
    assert.equal(body.status, 'completed');
    assert.equal(body.model, 'test-model');
    assert.match(body.id, /^resp_[0-9a-f]+$/);
    assert.equal(body.output[0]?.type, 'reasoning', 'the answer is not the first output item');
    assert.equal(body.output[1]?.content?.length, 2, 'the text is split over two parts');
    assert.equal(outputText(body), 'Echo: Why do developers prefer dark mode?');
    assert.ok(body.usage);
    assert.equal(body.usage.total_tokens, body.usage.input_tokens + body.usage.output_tokens);
  });

  test('every optional setting the client may send is accepted and the reply stays spec-valid', async () => {
    const res = await post({
      model: 'm',
      input: [
        { type: 'message', role: 'system', content: 'sys' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Describe.' }, { type: 'input_image', image_url: pngHeaderUri(1024, 1024), detail: 'auto' }] },
      ],
      text: { format: { type: 'text' }, verbosity: 'low' },
      temperature: 0.3,
      top_p: 0.9,
      max_output_tokens: 512,
      metadata: { run: 'r1' },
      store: false,
      reasoning: { effort: 'low', summary: 'auto' },
      tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }],
      tool_choice: { type: 'allowed_tools', tools: [{ type: 'function', name: 'get_weather' }] },
      service_tier: 'auto',
      prompt_cache_key: 'k',
      safety_identifier: 'u1',
      stream: false,
    });
    assert.equal(res.status, 200);
    assertSpecValid(await res.json());
  });

  test('the route also answers without the /v1 prefix', async () => {
    const base = server.url.replace(/\/v1$/, '');
    const res = await fetch(`${base}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', input: 'hi' }) });
    assert.equal(res.status, 200);
    assertSpecValid(await res.json());
  });

  test('image tokens follow the size read from the data URI', async () => {
    const text = 'abcdefgh'; // 2 tokens
    const withImage = (detail?: string): unknown[] => [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text }, { type: 'input_image', image_url: pngHeaderUri(2048, 4096), ...(detail ? { detail } : {}) }] },
    ];
    const high = (await (await post({ model: 'm', input: withImage() })).json()) as ResponseJson;
    const low = (await (await post({ model: 'm', input: withImage('low') })).json()) as ResponseJson;
    assert.equal(high.usage?.input_tokens, 2 + 1105);
    assert.equal(low.usage?.input_tokens, 2 + 85);
    const stats = server.stats();
    assert.equal(stats.inputTokens, 2 + 1105 + 2 + 85);
    assert.equal(stats.outputTokens, (high.usage?.output_tokens ?? 0) + (low.usage?.output_tokens ?? 0));
  });
});

describe('magic tokens', () => {
  test('[[incomplete]] gives status incomplete with partial text', async () => {
    const res = await post({ model: 'm', input: user('tell me a story [[incomplete]]') });
    assert.equal(res.status, 200);
    const body = (await res.json()) as ResponseJson;
    assertSpecValid(body);
    assert.equal(body.status, 'incomplete');
    assert.deepEqual(body.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(body.output[1]?.status, 'incomplete');
    const full = 'Echo: tell me a story [[incomplete]]';
    assert.equal(outputText(body), full.slice(0, Math.ceil(full.length / 2)));
  });

  test('[[refuse]] gives a refusal part and no output_text', async () => {
    const body = (await (await post({ model: 'm', input: '[[refuse]] something' })).json()) as ResponseJson;
    assertSpecValid(body);
    assert.equal(body.status, 'completed');
    const parts = body.output[1]?.content ?? [];
    assert.deepEqual(parts.map((p) => p.type), ['refusal']);
    assert.ok(parts[0]?.refusal);
  });

  test('[[failed]] gives HTTP 200 with status failed and an error', async () => {
    const res = await post({ model: 'm', input: user('[[failed]]') });
    assert.equal(res.status, 200);
    const body = (await res.json()) as ResponseJson;
    assertSpecValid(body);
    assert.equal(body.status, 'failed');
    assert.equal(body.error?.code, 'server_error');
    assert.deepEqual(body.output, []);
  });

  test('[[status:NNN]] always answers that status with the error object', async () => {
    for (const status of [400, 404, 422, 500]) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await post({ model: 'm', input: user(`bad item [[status:${status}]]`) }, { key: `s${status}` });
        assert.equal(res.status, status);
        const body = (await res.json()) as ErrorJson;
        assert.equal(typeof body.error.message, 'string');
        assert.equal(typeof body.error.type, 'string');
      }
    }
    assert.equal(server.stats().byStatus['422'], 2);
  });
});

describe('request errors', () => {
  test('an invalid body gets 400 with param naming the field', async () => {
    const res = await post({ model: 'm', input: 'x', temperature: 'hot' });
    assert.equal(res.status, 400);
    const body = (await res.json()) as ErrorJson;
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(body.error.param, 'temperature');

    const nested = (await (await post({ model: 'm', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text' }] }] })).json()) as ErrorJson;
    assert.equal(nested.error.param, 'input[0].content[0].text');
  });

  test('missing model or input, stream: true, invalid JSON and a wrong content type are 400s', async () => {
    const missingModel = await post({ input: 'x' });
    assert.equal(missingModel.status, 400);
    assert.equal(((await missingModel.json()) as ErrorJson).error.param, 'model');
    const missingInput = await post({ model: 'm' });
    assert.equal(((await missingInput.json()) as ErrorJson).error.param, 'input');
    const stream = await post({ model: 'm', input: 'x', stream: true });
    assert.equal(((await stream.json()) as ErrorJson).error.param, 'stream');
    const badJson = await post('{"model": "m", ');
    assert.equal(badJson.status, 400);
    assert.equal(((await badJson.json()) as ErrorJson).error.type, 'invalid_request_error');
    const textPlain = await post({ model: 'm', input: 'x' }, { headers: { 'content-type': 'text/plain' } });
    assert.equal(textPlain.status, 400);
    await textPlain.body?.cancel();
    assert.equal(server.stats().byStatus['400'], 5);
  });

  test('unknown routes get 404 with the error object', async () => {
    const res = await fetch(`${server.url}/chat/completions`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    const body = (await res.json()) as ErrorJson;
    assert.equal(body.error.type, 'not_found');
    const get = await fetch(`${server.url}/responses`);
    assert.equal(get.status, 404);
    await get.body?.cancel();
  });
});

describe('auth', () => {
  test('a wrong or missing key gets 401 and the key is never echoed', async () => {
    server.setOptions({ apiKey: 'sk-right-key' });
    const wrong = await post({ model: 'm', input: 'x' }, { headers: { authorization: 'Bearer sk-wrong-key' } });
    assert.equal(wrong.status, 401);
    const text = await wrong.text();
    assert.ok(!text.includes('sk-wrong-key') && !text.includes('sk-right-key'));
    const body = JSON.parse(text) as ErrorJson;
    assert.equal(body.error.type, 'authentication_error');
    assert.equal(body.error.code, 'invalid_api_key');

    const missing = await post({ model: 'm', input: 'x' });
    assert.equal(missing.status, 401);
    await missing.body?.cancel();

    const right = await post({ model: 'm', input: 'x' }, { headers: { authorization: 'Bearer sk-right-key' } });
    assert.equal(right.status, 200);
    assertSpecValid(await right.json());
  });

  test('the key can be set and cleared through /_options without being sent back', async () => {
    const set = await control('/_options', { apiKey: 'sk-remote' });
    const setText = await set.text();
    assert.equal(set.status, 200);
    assert.ok(!setText.includes('sk-remote'));
    assert.equal((await post({ model: 'm', input: 'x' })).status, 401);
    await control('/_options', { apiKey: null });
    const res = await post({ model: 'm', input: 'x' });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

describe('faults', () => {
  test('failFirst with 429,500 yields 429 (with Retry-After), 500, then 200 for the same key', async () => {
    server.setOptions({ faults: { failFirst: 2, failKinds: ['429', '500'], retryAfterS: 3, retryAfterMs: 1500 } });
    const body = { model: 'm', input: user('retry me') };
    const first = await post(body, { key: 'item-1' });
    assert.equal(first.status, 429);
    assert.equal(first.headers.get('retry-after'), '3');
    assert.equal(first.headers.get('retry-after-ms'), '1500');
    const err = (await first.json()) as ErrorJson;
    assert.equal(err.error.type, 'too_many_requests');
    assert.equal(err.error.code, 'rate_limit_exceeded');

    const second = await post(body, { key: 'item-1' });
    assert.equal(second.status, 500);
    assert.equal(second.headers.get('retry-after'), null);
    await second.body?.cancel();

    const third = await post(body, { key: 'item-1' });
    assert.equal(third.status, 200);
    assertSpecValid(await third.json());

    const otherKey = await post(body, { key: 'item-2' });
    assert.equal(otherKey.status, 429, 'each key has its own count');
    await otherKey.body?.cancel();

    const stats = server.stats();
    assert.deepEqual(stats.byKey, { 'item-1': 3, 'item-2': 1 });
    assert.deepEqual(stats.byStatus, { '200': 1, '429': 2, '500': 1 });
  });

  test('429 without retry options carries no Retry-After', async () => {
    server.setOptions({ faults: { rate429: 1 } });
    const res = await post({ model: 'm', input: 'x' });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), null);
    await res.body?.cancel();
  });

  test('reset drops the connection without an answer', async () => {
    server.setOptions({ faults: { failFirst: 1, failKinds: ['reset'] } });
    await assert.rejects(async () => {
      const res = await post({ model: 'm', input: 'x' }, { key: 'r' });
      await res.text();
    });
    assert.equal(server.stats().resets, 1);
    const retry = await post({ model: 'm', input: 'x' }, { key: 'r' });
    assert.equal(retry.status, 200);
    await retry.body?.cancel();
  });

  test('truncate cuts the body short so reading it fails', async () => {
    server.setOptions({ faults: { rateTruncate: 1 } });
    await assert.rejects(async () => {
      const res = await post({ model: 'm', input: 'x' }, { key: 't' });
      await res.json();
    });
    assert.equal(server.stats().truncated, 1);
    assert.equal(server.stats().byStatus['200'], undefined, 'a cut-off reply is not counted as a 200');
  });

  test('503 from failKinds also carries Retry-After', async () => {
    server.setOptions({ faults: { failFirst: 1, failKinds: ['503'], retryAfterS: 1 } });
    const res = await post({ model: 'm', input: 'x' });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    await res.body?.cancel();
  });

  test('the same seed gives the same fault pattern after a reset', async () => {
    const pattern = async (): Promise<number[]> => {
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await post({ model: 'm', input: 'x' });
        statuses.push(res.status);
        await res.body?.cancel();
      }
      return statuses;
    };
    server.setOptions({ faults: { rate429: 0.3, rate500: 0.2, seed: 99 } });
    const a = await pattern();
    server.reset();
    const b = await pattern();
    assert.deepEqual(b, a);
    assert.ok(a.some((s) => s !== 200) && a.some((s) => s === 200));
  });
});

describe('structured output', () => {
  const schema = {
    type: 'object',
    properties: { sentiment: { type: 'string', enum: ['positive', 'negative'] }, score: { type: 'number' }, tags: { type: 'array', items: { type: 'string' } } },
    required: ['sentiment', 'score', 'tags'],
    additionalProperties: false,
  };
  const format = { type: 'json_schema', name: 'review', schema, strict: true };

  test('json_schema answers parse as JSON and contain the required keys', async () => {
    const res = await post({ model: 'm', input: user('Great product, a positive surprise!'), text: { format } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as ResponseJson;
    assertSpecValid(body);
    const parsed = JSON.parse(outputText(body)) as Record<string, unknown>;
    for (const key of schema.required) assert.ok(key in parsed, `missing ${key}`);
    assert.equal(parsed.sentiment, 'positive');
    assert.ok(Array.isArray(parsed.tags));
  });

  test('[[invalid_json]] answers text that does not parse', async () => {
    const body = (await (await post({ model: 'm', input: user('x [[invalid_json]]'), text: { format } })).json()) as ResponseJson;
    assertSpecValid(body);
    assert.throws(() => JSON.parse(outputText(body)));
  });
});

describe('stats and control routes', () => {
  test('stats count calls per Idempotency-Key and "-" without one', async () => {
    for (const key of ['k1', 'k1', 'k2']) await (await post({ model: 'm', input: 'x' }, { key })).text();
    await (await post({ model: 'm', input: 'x' })).text();
    const stats = await remoteStats();
    assert.equal(stats.requests, 4);
    assert.deepEqual(stats.byKey, { k1: 2, k2: 1, '-': 1 });
    assert.deepEqual(stats, server.stats());
    await control('/_reset');
    const cleared = await remoteStats();
    assert.equal(cleared.requests, 0);
    assert.deepEqual(cleared.byKey, {});
  });

  test('/_options rejects bad values and names them', async () => {
    const res = await control('/_options', { latencyMs: -5 });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as ErrorJson).error.message, /latencyMs/);
    const rates = await control('/_options', { faults: { rate429: 2 } });
    assert.equal(rates.status, 400);
    assert.match(((await rates.json()) as ErrorJson).error.message, /rate429/);
  });

  test('/_options changes latency: calls are held until it is set back', async () => {
    const set = await control('/_options', { latencyMs: 60_000 });
    assert.equal(set.status, 200);
    await set.body?.cancel();
    const aborter = new AbortController();
    let settled = false;
    const pending = post({ model: 'm', input: 'x' }, { signal: aborter.signal }).then(
      () => (settled = true),
      () => undefined,
    );
    while ((await remoteStats()).requests < 1) {
      // wait for the call to reach the server
    }
    // Another round trip after the call arrived: an unheld call would have been answered by now.
    await remoteStats();
    assert.equal(settled, false, 'the call was answered despite the latency');
    aborter.abort();
    await pending;

    await (await control('/_options', { latencyMs: 0 })).text();
    const res = await post({ model: 'm', input: 'x' });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });

  test('maxInFlight counts calls held at the same time', async () => {
    server.setOptions({ latencyMs: 60_000 });
    const aborter = new AbortController();
    const calls = [1, 2, 3].map(() => post({ model: 'm', input: 'x' }, { signal: aborter.signal }).catch(() => undefined));
    while (server.stats().requests < 3) await sleep(5);
    assert.equal(server.stats().maxInFlight, 3);
    aborter.abort();
    await Promise.all(calls);
  });

  test('[[latency:MS]] holds only the call that carries it', async () => {
    const aborter = new AbortController();
    let slowSettled = false;
    const slow = post({ model: 'm', input: user('slow [[latency:60000]]') }, { signal: aborter.signal }).then(
      () => (slowSettled = true),
      () => undefined,
    );
    const fast = await post({ model: 'm', input: user('fast') });
    assert.equal(fast.status, 200);
    await fast.body?.cancel();
    await remoteStats();
    assert.equal(slowSettled, false);
    aborter.abort();
    await slow;
  });
});

test('close() returns while a call is still held and ends its connection', async () => {
  const s = await startFakeServer({ latencyMs: 60_000 });
  const pending = fetch(`${s.url}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","input":"x"}' });
  while (s.stats().requests < 1) await sleep(5);
  await s.close();
  await assert.rejects(pending);
});

describe('router-style usage.cost (opt-in)', () => {
  test('off by default; when set, usage carries cost in USD and the reply stays spec-valid; /_options sets and unsets it', async () => {
    const plain = (await (await post({ model: 'm', input: user('How much?') })).json()) as ResponseJson & { usage: Record<string, unknown> };
    assert.equal('cost' in plain.usage, false);
    server.setOptions({ usageCost: { inputPerMillion: 2, outputPerMillion: 8 } });
    try {
      const body = (await (await post({ model: 'm', input: user('How much?') })).json()) as ResponseJson & { usage: { input_tokens: number; output_tokens: number; cost: number } };
      assertSpecValid(body);
      assert.equal(body.usage.cost, (body.usage.input_tokens * 2 + body.usage.output_tokens * 8) / 1e6);
    } finally {
      server.setOptions({ usageCost: undefined });
    }
    const opts = (path: string, payload: unknown) => fetch(`${new URL(server.url).origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    const set = (await (await opts('/_options', { usageCost: { inputPerMillion: 1, outputPerMillion: 1 } })).json()) as { usageCost: unknown };
    assert.deepEqual(set.usageCost, { inputPerMillion: 1, outputPerMillion: 1 });
    assert.equal((await opts('/_options', { usageCost: { inputPerMillion: -1, outputPerMillion: 1 } })).status, 400);
    const unset = (await (await opts('/_options', { usageCost: null })).json()) as { usageCost: unknown };
    assert.equal(unset.usageCost, null);
  });
});
