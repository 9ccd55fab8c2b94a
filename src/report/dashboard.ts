import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { REPORT_DEFAULTS } from '../config/defaults.js';
import { Queue } from '../core/cjs-deps.js';
import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';
import type { JobData } from '../core/item.js';
import { bullPrefix } from '../queue/keys.js';
import { listRuns } from '../queue/run-meta.js';
import { hostAllowed } from './host-check.js';

export interface DashboardOptions {
  redis: Redis;
  prefix?: string;
  port: number;
  log: Logger;
  /** How often the list of runs is read again, so runs enqueued later show up. @default REPORT_DEFAULTS.dashboardRefreshMs */
  refreshMs?: number;
  /** Host names answered besides 127.0.0.1, localhost and [::1] (a name that reaches it through a tunnel). */
  allowedHosts?: string[];
}

export interface Dashboard {
  url: string;
  /** Names of the queues shown. */
  queues(): string[];
  close(): Promise<void>;
}

/**
 * bull-board over every run's queue, on 127.0.0.1 only: it has no login, and shows prompts and job
 * data. It is read-only: removing or retrying jobs behind respool's back would leave items without
 * their line; `respool retry` and `respool cancel` do that safely.
 */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const adapter = new ExpressAdapter();
  adapter.setBasePath('/');
  const board = createBullBoard({ queues: [], serverAdapter: adapter, options: { uiConfig: { boardTitle: 'respool' } } });
  const shown = new Map<string, Queue<JobData>>();

  const sync = async () => {
    const runs = new Set(await listRuns(opts.redis, opts.prefix));
    for (const run of runs) {
      if (shown.has(run)) continue;
      const queue = new Queue<JobData>(run, { connection: opts.redis, prefix: bullPrefix(opts.prefix) });
      queue.on('error', (err) => opts.log.warn(`queue ${run}: ${err.message}`));
      shown.set(run, queue);
      board.addQueue(new BullMQAdapter(queue, { readOnlyMode: true, description: `respool run ${run}` }));
      opts.log.info(`dashboard: showing run ${run}`);
    }
    for (const [run, queue] of shown) {
      if (runs.has(run)) continue;
      board.removeQueue(run);
      shown.delete(run);
      await queue.close();
      opts.log.info(`dashboard: run ${run} is gone (cleaned)`);
    }
  };
  await sync();
  let syncing = false;
  const timer = setInterval(() => {
    if (syncing) return;
    syncing = true;
    sync()
      .catch((err: unknown) => opts.log.warn(`dashboard: cannot list runs: ${(err as Error).message}`))
      .finally(() => (syncing = false));
  }, opts.refreshMs ?? REPORT_DEFAULTS.dashboardRefreshMs);

  const router = adapter.getRouter() as (req: IncomingMessage, res: ServerResponse) => void;
  const server: Server = createServer((req, res) => {
    // Another Host is a page of another site reaching 127.0.0.1 (DNS rebinding): it gets nothing.
    if (!hostAllowed(req.headers.host, opts.allowedHosts)) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' }).end('respool dashboard: this Host is not served (see --allowed-host)\n');
      return;
    }
    router(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    queues: () => [...shown.keys()],
    close: async () => {
      clearInterval(timer);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.all([...shown.values()].map((q) => q.close()));
    },
  };
}
