import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { Redis, type RedisOptions } from 'ioredis';
import { sleep } from '../../src/core/sleep.js';
import { startFakeServer, type FakeServer, type FakeServerOptions } from '../../src/fake-server/index.js';
import { freePort } from '../../src/queue/embedded-redis.js';
import { tempDir } from './cli.js';
import { Proc, stopAll } from './procs.js';

/**
 * A redis-server of a test's own, on a free port of 127.0.0.1, with its data in a temporary folder:
 * for tests that restart, stop or freeze Redis, and for settings the shared server must never get
 * (a password, TLS, an eviction policy). Nothing a test does to it reaches the shared Redis.
 */

export interface OwnRedisOptions {
  /**
   * AOF on (the default), so that a `stop()` then `start()` brings the data back, as after an
   * operator's restart. Off for servers that only have to answer.
   */
  persistent?: boolean;
  password?: string;
  /** Serve TLS only (rediss://), with this certificate, key and CA. */
  tls?: { cert: string; key: string; ca: string };
  /** More redis-server arguments, after the others (a later setting wins). */
  args?: string[];
}

export class OwnRedis {
  private child: ChildProcess | null = null;
  private output = '';
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly opts: OwnRedisOptions,
  ) {}

  /** A new server, answering PING when this resolves. */
  static async start(opts: OwnRedisOptions = {}): Promise<OwnRedis> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'respool-redis-'));
    const r = new OwnRedis(await freePort(), dir, opts);
    await r.start();
    return r;
  }

  get url(): string {
    const auth = this.opts.password ? `:${encodeURIComponent(this.opts.password)}@` : '';
    return `${this.opts.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port and folder; with AOF on, the data comes back. */
  async start(): Promise<void> {
    this.output = '';
    const child = spawn('redis-server', this.serverArgs(), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    const clientOpts = await this.clientOptions();
    const deadline = Date.now() + 10_000;
    while (!(await pings(this.url, clientOpts))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${this.output}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${this.port} within 10 s: ${this.output}`);
      await sleep(50);
    }
  }

  /** SIGTERM: Redis flushes the AOF and exits, as in a restart by an operator. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
    this.child = null;
  }

  /** Freezes the server (connections stay open, nothing answers) or lets it go on. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** Kills the server and removes its folder. */
  async destroy(): Promise<void> {
    this.thaw();
    await this.stop('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }

  private serverArgs(): string[] {
    const { persistent = true, password, tls, args = [] } = this.opts;
    const out = ['--bind', '127.0.0.1', '--dir', this.dir, '--save', ''];
    out.push(...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no']));
    if (tls) out.push('--port', '0', '--tls-port', String(this.port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no');
    else out.push('--port', String(this.port));
    if (password) out.push('--requirepass', password);
    return [...out, ...args];
  }

  private async clientOptions(): Promise<RedisOptions> {
    return this.opts.tls ? { tls: { ca: await readFile(this.opts.tls.ca) } } : {};
  }
}

/** True once a server at `url` answers PING; never retries or queues by itself. */
async function pings(url: string, opts: RedisOptions): Promise<boolean> {
  const probe = new Redis(url, { ...opts, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export interface OwnRedisSuite {
  redis: OwnRedis;
  fake: FakeServer;
  dir: string;
  /** `env` plus REDIS_URL of this suite's own redis-server. */
  env(): Record<string, string>;
  /** A respool process under `prefix` against that server; the suite SIGKILLs it at the end if it still runs. */
  start(args: string[]): Proc;
}

/**
 * For the suites that restart Redis under respool's processes: a redis-server of their own (AOF on),
 * a fake server and a temp folder, as `before`/`after` hooks of the enclosing `describe`. The fields
 * are there once the `before` hook has run.
 */
export function withOwnRedis(prefix: string, env: Record<string, string>, fakeOptions: FakeServerOptions = {}): OwnRedisSuite {
  const procs = new Set<Proc>();
  const suite = {
    env: () => ({ ...env, REDIS_URL: suite.redis.url }),
    start: (args: string[]) => {
      const p = new Proc(['--prefix', prefix, ...args], { env: suite.env() });
      procs.add(p);
      return p;
    },
  } as Partial<OwnRedisSuite> as OwnRedisSuite;
  before(async () => {
    suite.redis = await OwnRedis.start();
    suite.fake = await startFakeServer(fakeOptions);
    suite.dir = await tempDir();
  });
  after(async () => {
    await stopAll(procs);
    await suite.fake?.close();
    await suite.redis?.destroy();
  });
  return suite;
}
