import type { Command } from 'commander';
import { parsePort } from '../parse.js';
import { Session, type GlobalFlags } from '../session.js';

export function registerDashboard(program: Command, globals: () => GlobalFlags): void {
  program
    .command('dashboard')
    .description('serve bull-board, a read-only web view of every run\'s queue, on 127.0.0.1 (prints its address)')
    .option('--port <n>', 'port on 127.0.0.1 (0 = any free port)', '3000')
    .option('--allowed-host <name>', 'also answer requests for this Host name (besides 127.0.0.1 and localhost), e.g. behind a tunnel (repeatable)', (v: string, prev: string[] = []) => [...prev, v], [])
    .action(async (flags: { port: string; allowedHost: string[] }) => {
      const port = parsePort(flags.port, '--port');
      // bull-board and Express take ~200 ms to load: only this command pays for them.
      const { startDashboard } = await import('../../report/dashboard.js');
      const session = await Session.open(globals());
      const dashboard = await startDashboard({ redis: session.redis, port, log: session.log, allowedHosts: flags.allowedHost, ...(session.prefix ? { prefix: session.prefix } : {}) });
      process.stdout.write(`${dashboard.url}\n`);
      session.log.info(`dashboard on ${dashboard.url} (read-only; Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await dashboard.close();
      await session.close();
    });
}
