import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeServer, type FakeServer } from '../../src/fake-server/index.js';
import { openRespool } from '../../src/index.js';
import { writePrompts } from '../helpers/prompts.js';
import { countIds, readLines, runCli, tempDir, testPrefix } from '../helpers/cli.js';
import { OwnRedis, type OwnRedisOptions } from '../helpers/own-redis.js';

const PASSWORD = 'pw-Zq8!x/y@h%3A';
const EVICTION_WARNING = /Redis maxmemory-policy is "allkeys-lru"/g;

/** Password and TLS Redis through REDIS_URL, and the eviction warning, each on a redis-server of its own. */
describe('Redis security: password, TLS, eviction policy', () => {
  let fake: FakeServer;
  let dir: string;
  let input: string;
  const servers: OwnRedis[] = [];

  before(async () => {
    fake = await startFakeServer();
    dir = await tempDir();
    input = path.join(dir, 'items.jsonl');
    await writePrompts(input, ['a', 'b', 'c'].map((id) => [id, `say ${id}`]));
  });
  after(async () => {
    await fake.close();
    for (const s of servers) await s.destroy();
  });

  const own = async (opts: OwnRedisOptions) => {
    const s = await OwnRedis.start({ persistent: false, ...opts });
    servers.push(s);
    return s;
  };
  const run = (redisUrl: string, name: string, env: Record<string, string> = {}) =>
    runCli(['--log-level', 'debug', '--prefix', testPrefix(), 'run', '--name', name, '--input', input, '--model', 'm', '--base-url', fake.url, '--out', path.join(dir, `${name}.jsonl`)], {
      env: { REDIS_URL: redisUrl, ...env },
      killAfterMs: 60_000,
    });

  it('a password in REDIS_URL is used and never printed; a wrong one fails without printing it', async () => {
    const redis = await own({ password: PASSWORD });
    const res = await run(redis.url, 'pw');
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual([...countIds(await readLines(path.join(dir, 'pw.jsonl'))).keys()].sort(), ['a', 'b', 'c']);
    // The URL is logged with the password replaced.
    assert.match(res.stderr, new RegExp(`redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}`));
    for (const form of [PASSWORD, encodeURIComponent(PASSWORD)]) assert.ok(!res.stderr.includes(form) && !res.stdout.includes(form), 'password printed');

    const noPass = await runCli(['status'], { env: { REDIS_URL: `redis://127.0.0.1:${redis.port}` }, killAfterMs: 30_000 });
    assert.equal(noPass.code, 1);
    assert.match(noPass.stderr, /NOAUTH|Authentication required/);
    const wrong = 'wrong-pass-9876';
    const bad = await runCli(['status'], { env: { REDIS_URL: `redis://:${wrong}@127.0.0.1:${redis.port}` }, killAfterMs: 30_000 });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /WRONGPASS/);
    assert.ok(!bad.stderr.includes(wrong), bad.stderr);
  });

  it('rediss:// with a private CA given in RESPOOL_REDIS_CA; without it the certificate is refused', async () => {
    const tls = path.join(dir, 'tls');
    makeCertificates(tls);
    const redis = await own({ password: PASSWORD, tls: { cert: path.join(tls, 'server.pem'), key: path.join(tls, 'server.key'), ca: path.join(tls, 'ca.pem') } });
    assert.ok(redis.url.startsWith('rediss://'));
    const res = await run(redis.url, 'tls', { RESPOOL_REDIS_CA: path.join(tls, 'ca.pem') });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual([...countIds(await readLines(path.join(dir, 'tls.jsonl'))).keys()].sort(), ['a', 'b', 'c']);
    assert.ok(!res.stderr.includes(PASSWORD));

    // Without the CA the certificate check fails, and says so (respool keeps retrying, as for any
    // Redis it cannot reach, so the process is stopped here).
    const noCa = await runCli(['status'], { env: { REDIS_URL: redis.url, RESPOOL_REDIS_CA: '' }, killAfterMs: 4000 });
    assert.match(noCa.stderr, /Redis: .*(self[- ]signed|certificate)/i);
    assert.ok(!noCa.stderr.includes(PASSWORD));
    const missing = await runCli(['status'], { env: { REDIS_URL: redis.url, RESPOOL_REDIS_CA: path.join(tls, 'nope.pem') }, killAfterMs: 30_000 });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /RESPOOL_REDIS_CA: cannot read .*nope\.pem \(ENOENT\)/);
  });

  it('the library takes the CA as an option (redisTls), reading no environment variable', async () => {
    const tls = path.join(dir, 'tls-lib');
    makeCertificates(tls);
    const redis = await own({ password: PASSWORD, tls: { cert: path.join(tls, 'server.pem'), key: path.join(tls, 'server.key'), ca: path.join(tls, 'ca.pem') } });
    // The variable the command line reads points nowhere: only the option can make this work.
    process.env.RESPOOL_REDIS_CA = path.join(tls, 'nope.pem');
    try {
      const rp = await openRespool({ redis: redis.url, redisTls: { ca: await readFile(path.join(tls, 'ca.pem')) }, prefix: testPrefix(), apiKey: 'sk-tls-library', cwd: dir });
      try {
        const result = await rp.run({ name: 'tls-lib', inputs: input, model: 'm', base_url: fake.url, out: 'tls-lib.jsonl' }).promise;
        assert.equal(result.outcome, 'complete');
        assert.deepEqual([...countIds(await readLines(path.join(dir, 'tls-lib.jsonl'))).keys()].sort(), ['a', 'b', 'c']);
      } finally {
        await rp.close();
      }
    } finally {
      delete process.env.RESPOOL_REDIS_CA;
    }
  });

  it('warns once per process when Redis may evict keys; says nothing for noeviction or when CONFIG is refused', async () => {
    const lru = await own({ args: ['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lru'] });
    const res = await run(lru.url, 'lru');
    assert.equal(res.code, 0, res.stderr);
    // Once, although the run opens several connections, queues and workers.
    assert.equal(res.stderr.match(EVICTION_WARNING)?.length, 1, res.stderr);
    assert.match(res.stderr, /Set "maxmemory-policy noeviction"/);
    const status = await runCli(['status'], { env: { REDIS_URL: lru.url } });
    assert.equal(status.stderr.match(EVICTION_WARNING)?.length, 1, status.stderr);

    const safe = await own({ args: ['--maxmemory-policy', 'noeviction'] });
    const quiet = await runCli(['status'], { env: { REDIS_URL: safe.url } });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /maxmemory-policy/);

    // A managed Redis that refuses CONFIG: nothing to check, nothing said, everything else works.
    const locked = await own({ args: ['--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', ''] });
    const silent = await run(locked.url, 'locked');
    assert.equal(silent.code, 0, silent.stderr);
    assert.doesNotMatch(silent.stderr, /Redis maxmemory-policy/);
  });
});

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it. */
function makeCertificates(dir: string): void {
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  execFileSync('mkdir', ['-p', dir]);
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=respool test CA']);
  ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > ext.cnf'], { cwd: dir });
  ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf']);
}
