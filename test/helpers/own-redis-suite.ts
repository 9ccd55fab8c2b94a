import { after, before } from 'node:test';
import { startFakeServer, type FakeServer, type FakeServerOptions } from '../../src/fake-server/index.js';
import { tempDir } from './cli.js';
import { OwnRedis } from './own-redis.js';
import { Proc, stopAll } from './procs.js';

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
