import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { postSummary } from '../../src/schedule/webhook.js';
import { recordingLogger } from '../helpers/logger.js';

/** The on_complete POST against a real local HTTP server. */
describe('on_complete webhook', () => {
  async function server(statuses: number[]) {
    const seen: Array<{ type: string | undefined; body: string }> = [];
    const s = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ type: req.headers['content-type'], body });
        res.writeHead(statuses[Math.min(seen.length - 1, statuses.length - 1)]!).end();
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook?token=secret-token`;
    return { url, seen, close: () => new Promise<void>((r) => s.close(() => r())) };
  }

  it('POSTs the summary as JSON, retries a 503, and logs the target without its query', async () => {
    const srv = await server([503, 204]);
    const { log, messages } = recordingLogger();
    try {
      const status = await postSummary(srv.url, { run: 'r-2026-12-01', items: 3 }, log);
      assert.equal(status, 204);
      assert.equal(srv.seen.length, 2);
      assert.equal(srv.seen[1]!.type, 'application/json');
      assert.deepEqual(JSON.parse(srv.seen[1]!.body), { run: 'r-2026-12-01', items: 3 });
      assert.ok(messages.some((m) => m.includes('/hook answered 204')), messages.join('\n'));
      assert.ok(messages.every((m) => !m.includes('secret-token')), messages.join('\n'));
    } finally {
      await srv.close();
    }
  });

  it('gives up at once on a 4xx and says so, without throwing', async () => {
    const srv = await server([404]);
    const { log, messages } = recordingLogger();
    try {
      assert.equal(await postSummary(srv.url, {}, log), 404);
      assert.equal(srv.seen.length, 1);
      assert.ok(messages.some((m) => /did not succeed \(last answer 404\)/.test(m)), messages.join('\n'));
    } finally {
      await srv.close();
    }
  });
});
