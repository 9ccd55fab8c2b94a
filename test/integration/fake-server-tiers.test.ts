/** The fake server's service tiers: flex answers say flex, and flex capacity can run short (429 resource_unavailable). */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeServer, type FakeServer } from '../../src/fake-server/index.js';

let server: FakeServer;

before(async () => {
  server = await startFakeServer();
});

after(async () => {
  await server.close();
});

beforeEach(() => {
  server.setOptions({ faults: undefined, batch: undefined });
  server.reset();
});

function post(body: Record<string, unknown>, key?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers['idempotency-key'] = key;
  return fetch(`${server.url}/responses`, { method: 'POST', headers, body: JSON.stringify({ model: 'm', input: 'hello', ...body }) });
}

async function tierOf(res: Response): Promise<string> {
  assert.equal(res.status, 200);
  return ((await res.json()) as { service_tier: string }).service_tier;
}

describe('service tiers', () => {
  test('the answer says which tier served it: flex for flex, default otherwise', async () => {
    assert.equal(await tierOf(await post({ service_tier: 'flex' })), 'flex');
    assert.equal(await tierOf(await post({})), 'default');
    assert.equal(await tierOf(await post({ service_tier: 'auto' })), 'default');
  });

  test('flex unavailable: 429 resource_unavailable, only for flex calls, never billed', async () => {
    server.setOptions({ faults: { flexUnavailable: 1 } });
    const res = await post({ service_tier: 'flex' }, 'f-1');
    assert.equal(res.status, 429);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'resource_unavailable');
    assert.match(body.error.message, /flex capacity/);
    assert.equal(await tierOf(await post({}, 'd-1')), 'default', 'a default-tier call is not affected');
    const stats = server.stats();
    assert.equal(stats.flexUnavailable, 1);
    assert.equal(stats.billed['f-1'], undefined, 'the refused flex call is not billed');
    assert.equal(stats.billed['d-1'], 1);
  });

  test('a share of flex calls is refused, repeatably for a seed', async () => {
    async function run(): Promise<number[]> {
      server.setOptions({ faults: { flexUnavailable: 0.5, seed: 7 } });
      server.reset();
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await post({ service_tier: 'flex' });
        statuses.push(res.status);
        await res.body?.cancel();
      }
      return statuses;
    }
    const first = await run();
    const refused = first.filter((s) => s === 429).length;
    assert.ok(refused > 0 && refused < 30, `some but not all refused: ${refused}`);
    assert.deepEqual(await run(), first);
  });

  test('batch and flex options travel through /_options; null unsets, bad values are refused', async () => {
    const base = server.url.replace(/\/v1$/, '');
    const set = (body: unknown) => fetch(`${base}/_options`, { method: 'POST', body: JSON.stringify(body) });
    const ok = await set({ batch: { absent: true }, faults: { flexUnavailable: 0.25 } });
    assert.equal(ok.status, 200);
    const echoed = (await ok.json()) as { batch: { absent: boolean }; faults: { flexUnavailable: number } };
    assert.deepEqual(echoed.batch, { absent: true });
    assert.equal(echoed.faults.flexUnavailable, 0.25);
    const gone = await fetch(`${server.url}/batches`);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
    assert.equal((await set({ batch: null })).status, 200);
    const back = await fetch(`${server.url}/batches`);
    assert.equal(back.status, 200);
    await back.body?.cancel();
    for (const bad of [{ batch: { expireAfter: 2 } }, { batch: { errorStatus: 200 } }, { faults: { flexUnavailable: 3 } }]) {
      const res = await set(bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      await res.body?.cancel();
    }
  });
});
