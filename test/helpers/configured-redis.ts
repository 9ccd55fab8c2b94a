import { spawn, type ChildProcess } from 'node:child_process';
import { Redis, type RedisOptions } from 'ioredis';
import { tempDir } from './cli.js';
import { freePort } from './own-redis.js';

/**
 * A redis-server of a test's own (password, TLS or a setting), on a free port of 127.0.0.1, with its data in a temp folder: for
 * settings the shared Redis must never get (a password, TLS, an eviction policy). `stop` kills only it.
 */
export interface OwnRedis {
  port: number;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startOwnRedis(opts: { args?: string[]; tls?: { cert: string; key: string; ca: string }; password?: string } = {}): Promise<OwnRedis> {
  const port = await freePort();
  const dir = await tempDir();
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  if (opts.tls) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key, '--tls-ca-cert-file', opts.tls.ca, '--tls-auth-clients', 'no');
  } else {
    args.push('--port', String(port));
  }
  if (opts.password) args.push('--requirepass', opts.password);
  args.push(...(opts.args ?? []));
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
  const url = `${opts.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`;
  const clientOpts: RedisOptions = opts.tls ? { tls: { ca: await import('node:fs/promises').then((fs) => fs.readFile(opts.tls!.ca)) } } : {};
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
    const probe = new Redis(url, { ...clientOpts, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port}: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await done;
    },
  };
}
