import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/cli/logger.js';
import { startDashboard, type Dashboard } from '../../src/report/dashboard.js';
import { REDIS_URL, testPrefix } from '../helpers/cli.js';
import { deletePrefix } from '../helpers/redis-scan.js';

/** GET `path` from the dashboard with the given Host header, over real HTTP. */
function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** An HTTP/1.0 request without any Host header, on a raw socket. */
function getWithoutHost(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /api/queues HTTP/1.0\r\n\r\n'));
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

/**
 * The dashboard answers only requests addressed to this machine's loopback names (and names given
 * with --allowed-host): a page of another site that rebinds its name to 127.0.0.1 reads nothing.
 */
describe('dashboard: Host header check (DNS rebinding)', () => {
  const prefix = testPrefix();
  let redis: Redis;
  let dashboard: Dashboard;
  let port: number;

  before(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    // A run whose queue the board lists, so that an answered request has something to show.
    await redis.sadd(`${prefix}:runs`, 'host-check');
    dashboard = await startDashboard({ redis, prefix, port: 0, log: createLogger({ level: 'error' }), allowedHosts: ['tunnel.example'] });
    port = Number(new URL(dashboard.url).port);
  });
  after(async () => {
    await dashboard.close();
    await deletePrefix(prefix);
    redis.disconnect();
  });


  it('answers 127.0.0.1, localhost, [::1] and an --allowed-host name', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, 'tunnel.example:8443']) {
      const res = await get(port, '/api/queues', host);
      assert.equal(res.status, 200, `${host}: ${res.body.slice(0, 200)}`);
      assert.match(res.body, /host-check/, host);
    }
  });

  it('refuses any other Host with 421 and shows nothing', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1.evil.example', 'localhost.evil.example', '10.0.0.1']) {
      const res = await get(port, '/api/queues', host);
      assert.equal(res.status, 421, host);
      assert.doesNotMatch(res.body, /host-check/, host);
    }
    const page = await get(port, '/', 'evil.example');
    assert.equal(page.status, 421);
  });

  it('refuses a request without a Host header', async () => {
    const text = await getWithoutHost(port);
    assert.match(text, /^HTTP\/1\.[01] 4\d\d/);
    assert.doesNotMatch(text, /host-check/);
  });
});
