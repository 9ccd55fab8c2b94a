import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../core/logger.js';
import type { RedisTarget } from './redis-target.js';

/**
 * A redis-server (or valkey-server) from PATH, for machines without a Redis: data and AOF in
 * `<stateDir>/redis`, bound to 127.0.0.1 on a free port. Several respool processes started from the
 * same folder share one server (it would be unsafe for two servers to use one AOF): each registers
 * its pid in `users/`, and the last one to leave stops the server.
 */
export async function useEmbeddedRedis(stateDir: string, log: Logger, answersPing: (url: string) => Promise<boolean>): Promise<RedisTarget> {
  const dir = path.resolve(stateDir, 'redis');
  const users = path.join(dir, 'users');
  const urlFile = path.join(dir, 'url');
  mkdirSync(users, { recursive: true });
  writeFileSync(path.join(users, String(process.pid)), '');

  const shared = existsSync(urlFile) ? readFileSync(urlFile, 'utf8').trim() : '';
  let url = shared;
  let pid: number | null = null;
  if (shared && (await answersPing(shared))) {
    log.info(`using the embedded Redis at ${shared} (data in ${dir})`);
    pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8')) || null;
  } else {
    ({ url, pid } = await start(dir, log, answersPing));
    writeFileSync(urlFile, url);
    writeFileSync(path.join(dir, 'pid'), String(pid));
  }

  // Synchronous, so that it also runs from process.on('exit').
  const leave = () => {
    rmSync(path.join(users, String(process.pid)), { force: true });
    if (liveUsers(users).length > 0 || pid === null) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    rmSync(urlFile, { force: true });
  };
  process.once('exit', leave);
  return {
    url,
    origin: 'embedded',
    stop: async () => {
      process.removeListener('exit', leave);
      leave();
    },
  };
}

async function start(dir: string, log: Logger, answersPing: (url: string) => Promise<boolean>): Promise<{ url: string; pid: number }> {
  const binary = ['redis-server', 'valkey-server'].find((b) => spawnSync('which', [b]).status === 0);
  if (!binary) {
    throw new Error(
      'no Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379 and neither redis-server nor valkey-server is on PATH. ' +
        'Start one with `docker compose up -d redis` (then REDIS_URL=redis://127.0.0.1:6379) or install redis-server.',
    );
  }
  const port = await freePort();
  // Its own process group: a Ctrl-C meant for respool (which then drains gracefully) must not stop
  // the Redis it is draining into.
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore', detached: true },
  );
  child.unref();
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await answersPing(url)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await answersPing(url)) || child.pid === undefined) {
    child.kill('SIGKILL');
    throw new Error(`started ${binary} on port ${port} but it did not answer`);
  }
  log.info(`started ${binary} on ${url} (data in ${dir}); it stops when the last respool process using it exits`);
  return { url, pid: child.pid };
}

function liveUsers(users: string): string[] {
  return readdirSync(users).filter((name) => {
    try {
      process.kill(Number(name), 0);
      return true;
    } catch {
      rmSync(path.join(users, name), { force: true });
      return false;
    }
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
