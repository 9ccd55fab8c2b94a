import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startFakeServer, type FakeServer, type FakeStats } from '../../src/fake-server/index.js';
import { sleep } from '../../src/core/sleep.js';

interface ReplyJson {
  usage: { total_tokens: number } | null;
  error?: { message: string; type: string; param: string | null; code: string | null } | null;
}

interface Reply {
  status: number;
  headers: Headers;
  body: ReplyJson;
}

let server: FakeServer;

async function call(input: unknown, init: { signal?: AbortSignal; key?: string; text?: unknown; url?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.key !== undefined) headers['idempotency-key'] = init.key;
  const res = await fetch(`${init.url ?? server.url}/responses`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model: 'm', input, ...(init.text === undefined ? {} : { text: init.text }) }),
    signal: init.signal,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as ReplyJson };
}

async function options(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url.replace(/\/v1$/, '')}/_options`, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function remoteStats(): Promise<FakeStats> {
  return (await (await fetch(`${server.url.replace(/\/v1$/, '')}/_stats`)).json()) as FakeStats;
}

/** The Go-style durations of x-ratelimit-reset-*. */
const DURATION = /^(0s|\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s)$/;

function assertLimit429(r: Reply, kind: RegExp): void {
  assert.equal(r.status, 429);
  assert.equal(r.body.error?.type, 'too_many_requests');
  assert.equal(r.body.error?.code, 'rate_limit_exceeded');
  assert.match(r.body.error?.message ?? '', kind);
}

/** retry-after-ms of a 429, checked against retry-after (whole seconds, rounded up). */
function retryAfterMs(r: Reply): number {
  const ms = Number(r.headers.get('retry-after-ms'));
  assert.ok(Number.isInteger(ms) && ms > 0, `retry-after-ms is ${r.headers.get('retry-after-ms')}`);
  assert.equal(r.headers.get('retry-after'), String(Math.ceil(ms / 1000)));
  return ms;
}

before(async () => {
  server = await startFakeServer();
});

after(async () => {
  await server.close();
});

beforeEach(() => {
  server.setOptions({ latencyMs: 0, faults: undefined, apiKey: undefined, limits: undefined });
  server.reset();
});

describe('requests per minute', () => {
  test('a burst gets exactly the window allowance, the rest 429 with hints, and the hint is enough', async () => {
    server.setOptions({ limits: { rpm: 600, windowMs: 1000 } }); // 10 per window
    const replies = await Promise.all(Array.from({ length: 15 }, (_, i) => call(`burst ${i}`)));
    const ok = replies.filter((r) => r.status === 200);
    const limited = replies.filter((r) => r.status !== 200);
    assert.equal(ok.length, 10);
    assert.equal(limited.length, 5);

    // Each admitted call saw one more request in the window than the one before it.
    const remaining = ok.map((r) => Number(r.headers.get('x-ratelimit-remaining-requests'))).sort((a, b) => a - b);
    assert.deepEqual(remaining, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const r of ok) {
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '600');
      assert.match(r.headers.get('x-ratelimit-reset-requests') ?? '', DURATION);
      assert.equal(r.headers.get('x-ratelimit-limit-tokens'), null, 'no token headers without tpm');
      assert.equal(r.headers.get('retry-after-ms'), null);
    }

    let longest = 0;
    for (const r of limited) {
      assertLimit429(r, /requests/);
      longest = Math.max(longest, retryAfterMs(r));
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '600');
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
      const reset = r.headers.get('x-ratelimit-reset-requests') ?? '';
      assert.match(reset, DURATION);
      assert.notEqual(reset, '0s');
    }

    const stats = server.stats();
    assert.equal(stats.admitted, 10);
    assert.equal(stats.limited, 5);
    assert.equal(stats.byStatus['429'], 5);
    assert.equal(stats.byStatus['200'], 10);
    assert.equal(stats.requests, 15);
    assert.equal(stats.windowPeak.requests, 10);

    await sleep(longest);
    const again = await call('after the wait');
    assert.equal(again.status, 200, again.body.error?.message);
    assert.ok(server.stats().windowPeak.requests <= 10);
  });

  test('a client that honours retry-after-ms gets everything through without the window ever going over', async () => {
    server.setOptions({ limits: { rpm: 1200, tpm: 60_000, windowMs: 300 } }); // 6 requests, 300 tokens per window
    const items = Array.from({ length: 20 }, (_, i) => `item ${i} ${'x'.repeat(i * 8)}`);
    const costs: number[] = [];
    await Promise.all(
      items.map(async (item) => {
        for (;;) {
          const r = await call(item);
          if (r.status === 200) {
            costs.push(r.body.usage?.total_tokens ?? 0);
            return;
          }
          assertLimit429(r, /requests|tokens/);
          await sleep(retryAfterMs(r));
        }
      }),
    );
    const stats = server.stats();
    assert.equal(stats.admitted, 20);
    assert.ok(stats.limited > 0, 'the client never hit the limit; the test proves nothing');
    assert.ok(stats.windowPeak.requests <= 6, `peak ${stats.windowPeak.requests} requests`);
    assert.ok(stats.windowPeak.tokens <= 300, `peak ${stats.windowPeak.tokens} tokens`);
    assert.equal(stats.tokensAdmitted, costs.reduce((a, b) => a + b, 0));
  });
});

describe('tokens per minute', () => {
  test('a call whose cost is over what is left gets 429 naming tokens, a cheaper one still fits', async () => {
    // Learn the costs without limits first, so the test follows the server's token counting.
    const big = 'Summarise: ' + 'lorem ipsum '.repeat(40);
    const small = 'hi';
    const bigCost = (await call(big)).body.usage?.total_tokens ?? 0;
    const smallCost = (await call(small)).body.usage?.total_tokens ?? 0;
    assert.ok(bigCost > smallCost && smallCost > 0);
    server.reset();

    const allowance = 2 * bigCost + smallCost;
    server.setOptions({ limits: { tpm: allowance } }); // the default 60 s window: limit = tpm
    const first = await call(big);
    assert.equal(first.status, 200);
    assert.equal(first.body.usage?.total_tokens, bigCost);
    assert.equal(first.headers.get('x-ratelimit-limit-tokens'), String(allowance));
    assert.equal(first.headers.get('x-ratelimit-remaining-tokens'), String(allowance - bigCost));
    assert.equal(first.headers.get('x-ratelimit-reset-tokens'), '0s');
    assert.equal(first.headers.get('x-ratelimit-limit-requests'), null, 'no request headers without rpm');
    assert.equal((await call(big)).status, 200);

    const over = await call(big);
    assertLimit429(over, /tokens/);
    assert.match(over.body.error?.message ?? '', new RegExp(`Used ${2 * bigCost}, Requested ${bigCost}\\.`));
    assert.equal(over.headers.get('x-ratelimit-remaining-tokens'), String(smallCost));
    const wait = retryAfterMs(over);
    assert.ok(wait > 50_000 && wait <= 60_001, `retry-after-ms ${wait} is not about one window`);
    assert.match(over.headers.get('x-ratelimit-reset-tokens') ?? '', /^\d+(\.\d+)?s$/);

    const fits = await call(small);
    assert.equal(fits.status, 200);
    assert.equal(fits.headers.get('x-ratelimit-remaining-tokens'), '0');

    const stats = server.stats();
    assert.equal(stats.tokensAdmitted, allowance);
    assert.equal(stats.windowPeak.tokens, allowance);
    assert.equal(stats.limited, 1);
  });

  test('the cost charged is the total_tokens each kind of reply reports', async () => {
    server.setOptions({ limits: { tpm: 1_000_000 } });
    const schema = { type: 'json_schema', name: 'r', schema: { type: 'object', properties: { a: { type: 'string' }, n: { type: 'integer' } }, required: ['a', 'n'] } };
    const replies = [
      await call('plain question'),
      await call('[[refuse]] please'),
      await call('long story [[incomplete]] '.repeat(5)),
      await call('[[failed]]'),
      await call('as JSON', { text: { format: schema } }),
      await call('as JSON [[invalid_json]]', { text: { format: schema } }),
    ];
    const sum = replies.reduce((a, r) => {
      assert.equal(r.status, 200);
      return a + (r.body.usage?.total_tokens ?? 0);
    }, 0);
    const forced = await call('[[status:503]]');
    assert.equal(forced.status, 503);
    assert.equal(forced.headers.get('x-ratelimit-limit-tokens'), '1000000', 'admitted calls carry the headers whatever their status');
    const stats = server.stats();
    assert.equal(stats.tokensAdmitted, sum, '[[failed]] and forced statuses report no usage and cost nothing');
    assert.equal(stats.admitted, 7);
  });

  test('a call too large for any window gets 429 without a retry hint', async () => {
    server.setOptions({ limits: { tpm: 600, windowMs: 1000 } }); // 10 tokens per window
    const r = await call('x'.repeat(400));
    assertLimit429(r, /Request too large for tokens/);
    assert.equal(r.headers.get('retry-after-ms'), null);
    assert.equal(r.headers.get('retry-after'), null);
    assert.equal(r.headers.get('x-ratelimit-limit-tokens'), '600');
    assert.equal(server.stats().admitted, 0);
  });
});

describe('concurrency', () => {
  test('while held calls fill maxConcurrent, calls over it get 429; they pass once a slot frees', async () => {
    server.setOptions({ latencyMs: 60_000, limits: { maxConcurrent: 2 } });
    const aborter = new AbortController();
    const held = [1, 2].map((i) => call(`held ${i}`, { signal: aborter.signal }).catch(() => undefined));
    while (server.stats().admitted < 2) await sleep(5);

    // Refusals are answered at once, not after the latency.
    const over = await Promise.all([1, 2, 3].map((i) => call(`over ${i}`)));
    for (const r of over) {
      assertLimit429(r, /concurrent requests: Limit 2, In flight 2/);
      // The wait is until the first held call is due, about a minute away.
      assert.ok(retryAfterMs(r) > 1000);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), null, 'no rate headers without rpm or tpm');
    }
    assert.equal(server.stats().limited, 3);
    assert.equal(server.stats().admitted, 2);

    server.setOptions({ latencyMs: 0 });
    aborter.abort();
    await Promise.all(held);
    // The slots free when the server sees the aborted connections close, which it learns a little later.
    let r = await call('after');
    while (r.status === 429) {
      await sleep(5);
      r = await call('after');
    }
    assert.equal(r.status, 200);
  });
});

describe('control and bookkeeping', () => {
  test('/_options sets and clears limits; bad limits are refused with the field named', async () => {
    const set = await options({ limits: { rpm: 60, windowMs: 1000, tpm: null } });
    assert.equal(set.status, 200);
    assert.deepEqual(set.json.limits, { rpm: 60, windowMs: 1000 });
    const first = await call('one');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-limit-requests'), '60');
    assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '0');
    assertLimit429(await call('two'), /requests/);

    const cleared = await options({ limits: null });
    assert.equal(cleared.json.limits, null);
    const free = await call('three');
    assert.equal(free.status, 200);
    assert.equal(free.headers.get('x-ratelimit-limit-requests'), null);
    assert.equal((await call('four')).status, 200);

    for (const [limits, field] of [
      [{ rpm: -1 }, 'limits.rpm'],
      [{ rpm: 30, windowMs: 1000 }, 'limits.rpm'],
      [{ maxConcurrent: 1.5 }, 'limits.maxConcurrent'],
      [[1], 'limits'],
    ] as const) {
      const bad = await options({ limits });
      assert.equal(bad.status, 400);
      assert.match(String((bad.json.error as { message: string }).message), new RegExp(field.replace('.', '\\.')));
    }
    const stats = await remoteStats();
    assert.equal(stats.limited, 1);
    assert.equal(stats.admitted, 3);
  });

  test('headers: false leaves out the x-ratelimit headers but keeps the retry hints', async () => {
    server.setOptions({ limits: { rpm: 60, windowMs: 1000, headers: false } });
    const ok = await call('a');
    assert.equal(ok.status, 200);
    assert.equal([...ok.headers.keys()].filter((k) => k.startsWith('x-ratelimit')).length, 0);
    const no = await call('b');
    assertLimit429(no, /requests/);
    assert.equal([...no.headers.keys()].filter((k) => k.startsWith('x-ratelimit')).length, 0);
    retryAfterMs(no);
  });

  test('limit 429s are told apart from injected ones and do not use up failFirst', async () => {
    server.setOptions({ faults: { failFirst: 1, failKinds: ['429'], retryAfterMs: 7 }, limits: { rpm: 300, windowMs: 200 } }); // 1 per window
    const injected = await call('x', { key: 'k' });
    assert.equal(injected.status, 429);
    assert.equal(injected.headers.get('retry-after-ms'), '7', 'the injected hint wins');
    assert.equal(injected.headers.get('x-ratelimit-remaining-requests'), '0', 'it was admitted, so it carries the window state');
    const limited = await call('x', { key: 'k' });
    assertLimit429(limited, /requests/);
    await sleep(retryAfterMs(limited));
    const ok = await call('x', { key: 'k' });
    assert.equal(ok.status, 200, 'the limit 429 did not count as the failFirst call');
    const stats = server.stats();
    assert.equal(stats.byStatus['429'], 2);
    assert.equal(stats.limited, 1);
    assert.equal(stats.admitted, 2);
    assert.equal(stats.windowPeak.requests, 1);
  });

  test('reset() empties the window and the limit stats', async () => {
    server.setOptions({ limits: { rpm: 1 } }); // one per minute
    assert.equal((await call('a')).status, 200);
    assert.equal((await call('b')).status, 429);
    server.reset();
    assert.deepEqual(
      (({ limited, admitted, tokensAdmitted, windowPeak }) => ({ limited, admitted, tokensAdmitted, windowPeak }))(server.stats()),
      { limited: 0, admitted: 0, tokensAdmitted: 0, windowPeak: { requests: 0, tokens: 0 } },
    );
    assert.equal((await call('c')).status, 200);
  });

  test('startFakeServer refuses bad limits', async () => {
    await assert.rejects(startFakeServer({ limits: { tpm: 0 } }), /limits\.tpm/);
  });
});

describe('command line', () => {
  const bin = new URL('../../bin/respool.js', import.meta.url).pathname;
  const built = new URL('../../dist/fake-server/limits.js', import.meta.url).pathname;

  function start(args: string[]): { child: ChildProcess; exit: Promise<{ code: number | null; stderr: string }> } {
    const child = spawn(process.execPath, [bin, 'fake-server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
    return { child, exit };
  }

  function listening(child: ChildProcess): Promise<string> {
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+\/v1)\n/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code} before listening`)));
    });
  }

  test('--rpm and --limit-window-ms limit the server it starts', async () => {
    assert.ok(existsSync(built), 'dist is missing the limits; run `npm run build` first');
    const { child, exit } = start(['--port', '0', '--rpm', '60', '--limit-window-ms', '1000']);
    try {
      const url = await listening(child);
      const first = await call('one', { url });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-ratelimit-limit-requests'), '60');
      const second = await call('two', { url });
      assertLimit429(second, /requests/);
      await sleep(retryAfterMs(second));
      assert.equal((await call('three', { url })).status, 200);
      assertLimit429(await call('four', { url }), /requests/);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal((await exit).code, 0);
  });

  test('--max-concurrent and --tpm are accepted; impossible limits are refused with the flag named', async () => {
    assert.ok(existsSync(built), 'dist is missing the limits; run `npm run build` first');
    const { child, exit } = start(['--port', '0', '--max-concurrent', '4', '--tpm', '100000', '--no-ratelimit-headers']);
    try {
      const url = await listening(child);
      const r = await call('hello', { url });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-ratelimit-limit-tokens'), null, '--no-ratelimit-headers');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal((await exit).code, 0);

    for (const [args, flag] of [
      [['--rpm', '30', '--limit-window-ms', '1000'], '--rpm'],
      [['--tpm', '0'], '--tpm'],
      [['--max-concurrent', '0'], '--max-concurrent'],
      [['--limit-window-ms', '1.5'], '--limit-window-ms'],
    ] as const) {
      const { code, stderr } = await start(['--port', '0', ...args]).exit;
      assert.notEqual(code, 0, `${args.join(' ')} was accepted`);
      assert.ok(stderr.includes(flag), `stderr does not name ${flag}: ${stderr}`);
    }
  });
});
