import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../cli/logger.js';

export interface RedisTarget {
  url: string;
  /** Where the URL came from, for the start-up log line. */
  origin: 'REDIS_URL' | 'local' | 'embedded';
  /** Stops an embedded server; a no-op otherwise. */
  stop(): Promise<void>;
}

const LOCAL_URL = 'redis://127.0.0.1:6379';

/**
 * REDIS_URL when set; else a Redis on 127.0.0.1:6379 when one answers; else a redis-server (or
 * valkey-server) from PATH started with its data in `stateDir`, AOF on, stopped when respool exits.
 */
export async function resolveRedis(opts: { env: NodeJS.ProcessEnv; stateDir: string; log: Logger }): Promise<RedisTarget> {
  const fromEnv = opts.env.REDIS_URL;
  if (fromEnv) return { url: fromEnv, origin: 'REDIS_URL', stop: async () => {} };
  if (await answersPing(LOCAL_URL)) return { url: LOCAL_URL, origin: 'local', stop: async () => {} };
  return startEmbedded(opts.stateDir, opts.log);
}

export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  // BullMQ workers block on Redis: they need maxRetriesPerRequest null, and it is harmless elsewhere.
  return new Redis(url, { maxRetriesPerRequest: null, ...extra });
}

/** A connection for the producer side that fails fast instead of queueing commands while offline. */
export function createFailFastRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 3, enableOfflineQueue: true });
}

async function answersPing(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function startEmbedded(stateDir: string, log: Logger): Promise<RedisTarget> {
  const binary = ['redis-server', 'valkey-server'].find((b) => spawnSync('which', [b]).status === 0);
  if (!binary) {
    throw new Error(
      'no Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379 and neither redis-server nor valkey-server is on PATH. ' +
        'Start one with `docker compose up -d redis` (then REDIS_URL=redis://127.0.0.1:6379) or install redis-server.',
    );
  }
  const dir = path.resolve(stateDir, 'redis');
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await answersPing(url)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await answersPing(url))) {
    child.kill('SIGKILL');
    throw new Error(`started ${binary} on port ${port} but it did not answer`);
  }
  log.info(`started ${binary} on ${url} (data in ${dir}); it stops when respool exits`);
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  return {
    url,
    origin: 'embedded',
    stop: async () => {
      process.removeListener('exit', onExit);
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
