import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { postSummary } from '../../src/schedule/webhook.js';
import { recordingLogger } from '../helpers/logger.js';

/** A real local server: `/hook` answers `hookStatus` (with a Location for a 3xx), `/elsewhere` 200. */
async function server(hookStatus: number) {
  const seen: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = [];
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url?.startsWith('/hook')) res.writeHead(hookStatus, hookStatus >= 300 && hookStatus < 400 ? { location: '/elsewhere' } : {}).end();
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  return { port, seen, close: () => new Promise<void>((r) => s.close(() => r())) };
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('on_complete webhook: redirects and secrets', () => {
  for (const status of [301, 302, 307, 308]) {
    it(`a ${status} is a failure: not followed, logged as a redirect, never "answered 200"`, async () => {
      const srv = await server(status);
      const { log, messages } = recordingLogger();
      try {
        const answered = await postSummary(`http://127.0.0.1:${srv.port}/hook?token=tok-secret`, { run: 'r' }, log);
        assert.equal(answered, status);
        assert.deepEqual(srv.seen.map((r) => r.path), ['/hook?token=tok-secret'], 'the summary went nowhere else');
        assert.ok(messages.some((m) => m.includes(`/hook answered ${status}, a redirect; redirects are not followed`)), messages.join('\n'));
        assert.ok(messages.some((m) => /did not succeed \(last answer 3\d\d\)/.test(m)), messages.join('\n'));
        assert.ok(messages.every((m) => !m.includes('answered 200') && !m.includes('tok-secret')), messages.join('\n'));
      } finally {
        await srv.close();
      }
    });
  }

  it('a failing URL with a user, a password and a query token: logs show scheme, host and path only', async () => {
    const port = await closedPort();
    const { log, messages } = recordingLogger();
    assert.equal(await postSummary(`http://hook-user:pw-secret@127.0.0.1:${port}/hook?token=tok-secret`, {}, log, 2000), null);
    assert.ok(messages.some((m) => m.includes(`on_complete: POST to http://127.0.0.1:${port}/hook failed`)), messages.join('\n'));
    for (const secret of ['pw-secret', 'tok-secret', 'hook-user']) assert.ok(messages.every((m) => !m.includes(secret)), `${secret} in: ${messages.join('\n')}`);
  });

  it('a user and password in the URL are sent as Basic authorization, not in the URL', async () => {
    const srv = await server(204);
    const { log, messages } = recordingLogger();
    try {
      assert.equal(await postSummary(`http://hook-user:pw%40secret@127.0.0.1:${srv.port}/hook`, { run: 'r' }, log), 204);
      assert.equal(srv.seen[0]!.headers.authorization, `Basic ${Buffer.from('hook-user:pw@secret').toString('base64')}`);
      assert.ok(messages.every((m) => !m.includes('secret') && !m.includes('hook-user')), messages.join('\n'));
    } finally {
      await srv.close();
    }
  });
});
